# Mask R-CNN with a small LeViT (the digits arch: 64 / 96 / 128 channels,
# 8 trunk layers) on the bundled shapes (COCO format, 128x128 images, 3
# classes), from scratch on CPU through tools/train.py. The pyramid of
# configs/levit/mask-rcnn-levit-128s_8xb2_coco.py: activated stem maps at
# strides 4 and 8 (16 and 32 channels) + the three stages at 16, 32, 64
# (64, 96, 128 channels) -> mmdet's FPN (5 levels, strides 4-64), here with
# the 64-channel heads, anchors and sampling of
# _base_/models/mask-rcnn_simplefpn-c64.py and the schedule of
# _base_/schedules/shapes-coco_adamw_6e.py.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_simplefpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

arch = dict(embed_dims=[64, 96, 128], key_dim=16, num_heads=[4, 6, 8],
            depths=[2, 2, 2])

model = dict(
    backbone=dict(
        type='mmvitplug.LeViT',
        arch=arch,
        img_size=128,
        out_type='featmap',
        out_indices=(0, 1, 2),
        stem_out_strides=(4, 8),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='FPN',
        in_channels=[16, 32, 64, 96, 128],
        out_channels=64,
        num_outs=5),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
