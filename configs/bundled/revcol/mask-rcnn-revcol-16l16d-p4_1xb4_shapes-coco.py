# Mask R-CNN with a small RevCol (4 columns of 4 levels: 16 / 32 / 48 / 64
# channels, one ConvNeXt block each) on the bundled shapes (COCO format,
# 128x128 images, 3 classes): trains from scratch on CPU through
# tools/train.py and evaluates box and mask mAP at the end. The last
# column's four levels (strides 4, 8, 16, 32) go to mmdet's FPN (64
# channels, num_outs=5), heads scaled down as in
# _base_/models/mask-rcnn_fpn-c64.py, the schedule of the other bundled
# Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py);
# reversible columns (the official detection configs train plain ones).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_fpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

channels = [16, 32, 48, 64]
model = dict(
    backbone=dict(
        type='mmvitplug.RevCol',
        arch=dict(channels=channels, depths=(1, 1, 1, 1), num_columns=4),
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=channels),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
