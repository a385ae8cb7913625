# Mask R-CNN with a plain ResMLP-S12 backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), as configs/deit/mask-rcnn-deit-small_*
# (_base_/models/mask-rcnn_simplefpn.py,
# _base_/common/vitdet_lsj-100e_coco-instance.py):
# the single stride-16 map of the last block feeds mmvitplug.SimpleFPN,
# heads use LayerNorm, large-scale jitter, AdamW with layer-wise lr decay
# 0.7, 100 epochs (25 x 4 repeats).
# FIXED INPUT SIZE: ResMLP's cross-patch layers are (N, N) matrices over the
# patch grid, so every image reaching the backbone must be exactly
# image_size: training crops and pads to it (pipeline Pad +
# BatchFixedSizePad), testing resizes the long edge to it and pads (Pad).
# 800x800 instead of ViTDet's 1024: the 50x50 grid gives 2500x2500
# cross-patch matrices (6.3M parameters per block, 75M in all); at 1024 it
# would be 4096x4096 (201M in all).
# Source: the ViTDet recipe applied to ResMLP-S12 at 800x800; our
# combination (no published number).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-resmlp-12_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/resmlp_12_no_dist.pth (converted on
# load). Its 196x196 cross-patch weights (14x14 grid) are resized to the
# 50x50 grid (see mmvitplug.models.backbones.resmlp.resize_linear_tokens).
pretrained = 'pretrain/resmlp_12_no_dist.pth'
image_size = (800, 800)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
    ]),
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch='resmlp-12',
        img_size=image_size,
        out_indices=(11, ),
        drop_path_rate=0.05,
        with_cp=False,  # True trades compute for memory
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(backbone_channel=384, in_channels=[96, 192, 384, 384]))

# The pipelines of the common _base_ with image_size = 800x800.
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
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
