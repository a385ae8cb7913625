# ViTDet's COCO instance-segmentation training (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), data and schedule in one file as
# mmdet's common/lsj-100e_coco-instance.py that it extends: large-scale
# jitter at 1024x1024 (scale 0.1-2.0, padded with 114), 25 epochs x 4
# dataset repeats = 100 epochs, 2 images per GPU; AdamW, lr 1e-4 for a
# total batch of 64 (`--auto-scale-lr` rescales it to the batch used),
# weight decay 0.1, layer-wise lr decay 0.7, 250 warm-up iterations, lr x0.1
# at epochs 22 and 24. Use with models/mask-rcnn_simplefpn.py. `--amp`
# switches to mixed precision.
_base_ = ['mmdet::common/lsj-100e_coco-instance.py']

image_size = (1024, 1024)

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
