# Mask R-CNN with GhostNet 0.5x (the smallest zoo arch: width 0.5,
# 8-channel stem and first stage, 17 trunk layers) on the bundled shapes
# (COCO format, 128x128 images, 3 classes): trains from scratch on CPU
# through tools/train.py and evaluates box and mask mAP at the end. The
# ends of stages 2, 4, 6 and 9 (strides 4, 8, 16, 32; 12 / 20 / 56 / 480
# channels) go to mmdet's FPN (64 channels, num_outs=5: the stride-64
# level by max-pooling), heads scaled down
# (_base_/models/mask-rcnn_fpn-c64.py); the schedule of the other bundled
# Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py); BN
# trained (nothing is pretrained: no norm_eval, no frozen stages).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_fpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

channels = [12, 20, 56, 480]
model = dict(
    backbone=dict(
        type='mmvitplug.GhostNet',
        arch='ghostnet-0.5x',
        out_indices=(2, 4, 6, 9)),
    neck=dict(in_channels=channels),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
