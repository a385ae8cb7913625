# Mask R-CNN with a CaiT-XXS24 backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), as configs/deit/mask-rcnn-deit-small_*:
# the single stride-16 map of the last self-attention block (after the final
# norm) feeds mmvitplug.SimpleFPN, heads use LayerNorm, large-scale jitter at
# 1024x1024, AdamW with layer-wise lr decay 0.7, 100 epochs (25 x 4
# repeats). The class token and class-attention blocks are not built for
# featmap outputs (their checkpoint keys are reported as unexpected).
# Talking-heads attention materialises the (heads, 4096, 4096) attention of
# the 64x64 grid in every block (no fused kernel applies), so gradient
# checkpointing is on: without it a 2-image batch keeps ~40 GB of
# attention maps for the backward pass.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cait-xxs24_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/XXS24_224.pth (converted on load).
# The 14x14 position embedding is resized to 64x64.
pretrained = 'pretrain/XXS24_224.pth'
image_size = (1024, 1024)
embed_dims = 192
norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    data_preprocessor=dict(
        pad_size_divisor=32,
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch='cait-xxs24',
        img_size=image_size,
        out_type='featmap',
        out_indices=(23, ),
        drop_path_rate=0.05,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
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
# the 8x2 batch. `--amp` switches to mixed precision.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7))

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
