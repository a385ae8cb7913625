# Mask R-CNN with a small SReT (32 / 64 / 128 channels, one recursive unit
# a stage, slices 2 / 1 / 1: 5 trunk layers) on the bundled shapes (COCO
# format, 128x128 images, 3 classes): trains from scratch on CPU through
# tools/train.py and evaluates box and mask mAP at the end. The pyramid of
# configs/sret/mask-rcnn-sret-s_8xb2_coco.py: the three stage maps
# (strides 8, 16, 32) go to mmdet's FPN (64 channels, num_outs=5: the
# stride-64 and -128 levels by max-pooling), so the RPN runs on strides
# 8-128 and the RoI extractors read strides 8-64; heads scaled down
# (_base_/models/mask-rcnn_fpn-c64.py); the schedule of the other bundled
# Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_fpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

model = dict(
    backbone=dict(
        type='mmvitplug.SReT',
        arch=dict(
            embed_dims=(32, 64, 128),
            num_heads=(1, 2, 4),
            depths=(1, 1, 1),
            groups1=(2, 1, 1),
            groups2=(2, 1, 1),
            mlp_ratio=3.6,
            np_mlp_ratio=1.),
        img_size=128,
        out_indices=(0, 1, 2)),
    neck=dict(in_channels=[32, 64, 128]),
    rpn_head=dict(
        # shapes are 13-70 px: anchors of 16..256 px on strides 8..128
        anchor_generator=dict(scales=[2], strides=[8, 16, 32, 64, 128])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[8, 16, 32, 64]),
        bbox_head=dict(num_classes=3),
        mask_roi_extractor=dict(featmap_strides=[8, 16, 32, 64]),
        mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
