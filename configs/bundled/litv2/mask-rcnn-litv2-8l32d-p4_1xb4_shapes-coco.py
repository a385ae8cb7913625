# Mask R-CNN with a small LITv2 (32 / 64 / 128 / 256 channels, 1 / 1 / 2 /
# 1 blocks, HiLo attention with windows 2 / 1 in the last two stages) on
# the bundled shapes (COCO format, 128x128 images, 3 classes): trains from
# scratch on CPU through tools/train.py and evaluates box and mask mAP at
# the end. The four stage maps (strides 4, 8, 16, 32, through their output
# norms) go to mmdet's FPN (64 channels, num_outs=5: the stride-64 level by
# max-pooling), heads scaled down as in
# _base_/models/mask-rcnn_simplefpn-c64.py; the schedule of the other
# bundled Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

channels = 64
norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LITv2',
        arch=dict(
            embed_dims=32,
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 4, 8),
            window_sizes=(0, 0, 2, 1)),
        out_type='featmap',
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels,
              num_outs=5),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # shapes are 13-70 px: anchors of 16..256 px on strides 4..64
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2,
            in_channels=channels,
            conv_out_channels=32,
            norm_cfg=norm_cfg,
            num_classes=3)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=20)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
