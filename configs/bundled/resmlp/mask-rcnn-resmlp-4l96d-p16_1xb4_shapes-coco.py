# Mask R-CNN with a small plain ResMLP (4 blocks, 96 dims, patch 16) and
# mmvitplug.SimpleFPN on the bundled shapes (COCO format, 128x128 images,
# 3 classes): trains from scratch on CPU through tools/train.py and
# evaluates box and mask mAP at the end. The recipe of
# configs/resmlp/mask-rcnn-resmlp-12_8xb2_coco.py scaled down as the bundled
# DeiT one (_base_/models/mask-rcnn_simplefpn-c64.py,
# _base_/schedules/shapes-coco_adamw_6e.py).
# FIXED INPUT SIZE: the cross-patch layers are 64x64 matrices over the 8x8
# patch grid of a 128x128 input, so images are resized to fit 128x128 and
# padded to exactly 128x128 (pipeline Pad; BatchFixedSizePad in training).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_simplefpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

embed_dims = 96
image_size = (128, 128)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
    ]),
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=image_size,
        patch_size=16,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_size),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
