# Mask R-CNN with a small DHVT (4 blocks of 96 dims, 4 heads, patch 16) on
# the bundled shapes (COCO format, 128x128 images, 3 classes): trains from
# scratch on CPU through tools/train.py and evaluates box and mask mAP at
# the end. The design of configs/dhvt/mask-rcnn-dhvt-s_8xb2_coco.py (the
# 4-scale pyramid: mmvitplug.ScalePyramid on the 4 blocks' stride-16 maps
# -> strides 4, 8, 16, 32, then mmdet's FPN) with the bundled 64-channel
# heads and schedule of the other bundled Mask R-CNN configs
# (_base_/models/mask-rcnn_simplefpn-c64.py, whose SimpleFPN neck is
# replaced, _base_/schedules/shapes-coco_adamw_6e.py). The last block
# builds no class-token excitation (dense outputs).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_simplefpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

embed_dims = 96

model = dict(
    backbone=dict(
        type='mmvitplug.DHVT',
        arch=dict(
            embed_dims=embed_dims, num_layers=4, num_heads=4, patch_size=16),
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.),
    neck=[
        dict(
            type='mmvitplug.ScalePyramid',
            in_channels=embed_dims,
            in_stride=16,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[embed_dims] * 4,
            out_channels=64,
            num_outs=5),
    ],
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
