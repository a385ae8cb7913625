# Mask R-CNN with a PatchConvNet-S60 backbone (arXiv 2112.13692)
# ViTDet-style (https://arxiv.org/abs/2203.16527): the single stride-16 map of
# the last trunk block feeds mmvitplug.SimpleFPN, heads use LayerNorm,
# large-scale jitter at 1024x1024, AdamW with layer-wise lr decay, 100 epochs
# (25 x 4 repeats). The trunk normalises with LayerNorm (official weights),
# so small per-GPU batches are fine; a BatchNorm trunk
# (backbone.norm_cfg=dict(type='SyncBN')) would need SyncBN here. The
# attention-based aggregation is not built for dense outputs: its checkpoint
# weights are reported as unexpected keys on load.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-patchconvnet-s60_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/s60_224_1k.pth (converted on load).
pretrained = 'pretrain/s60_224_1k.pth'
image_size = (1024, 1024)
embed_dims = 384
norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    data_preprocessor=dict(
        pad_size_divisor=32,
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        out_type='featmap',
        out_indices=(59, ),
        drop_path_rate=0.1,
        with_cp=True,  # 60 blocks at 64x64 tokens: trade compute for memory
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims,
                     embed_dims],
        out_channels=256,
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# lr for a total batch of 64 as in ViTDet; `--auto-scale-lr` rescales it to
# the 8x2 batch. 62 depths (stem, 60 blocks, rest): decay 0.95 per block
# leaves the stem at 0.95^61 ~ 4% of the head lr.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.95))

max_epochs = 25  # x4 dataset repeats = 100 epochs
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=250),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[22, 24],
        gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=64)
