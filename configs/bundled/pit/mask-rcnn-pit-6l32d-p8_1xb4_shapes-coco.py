# Mask R-CNN with a small PiT (PiT-Ti's 16x16 stride-8 patch embedding,
# 32 / 64 / 128 channels, 1 / 2 / 4 heads, 1 / 1 / 2 blocks, PiT's
# depth-wise pooling between stages: 6 trunk layers) on the bundled shapes
# (COCO format, 128x128 images, 3 classes): trains from scratch on CPU
# through tools/train.py and evaluates box and mask mAP at the end. The
# pyramid of configs/pit/mask-rcnn-pit-s_8xb2_coco.py: the three stage maps
# (strides 8, 16, 32: 15x15, 8x8, 4x4; patch tokens without a norm) go to
# mmdet's FPN (64 channels, num_outs=5: the stride-64 and -128 levels by
# max-pooling), so the RPN runs on strides 8-128 and the RoI extractors
# read strides 8-64; heads scaled down as in
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
        type='mmvitplug.PiT',
        arch=dict(
            embed_dims=(32, 64, 128),
            depths=(1, 1, 2),
            num_heads=(1, 2, 4),
            patch_kernel=16,
            patch_stride=8),
        img_size=128,
        out_type='featmap',
        out_indices=(0, 1, 2)),
    neck=dict(in_channels=[32, 64, 128], out_channels=channels, num_outs=5),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # shapes are 13-70 px: anchors of 16..256 px on strides 8..128
        anchor_generator=dict(scales=[2], strides=[8, 16, 32, 64, 128])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            out_channels=channels, featmap_strides=[8, 16, 32, 64]),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(
            out_channels=channels, featmap_strides=[8, 16, 32, 64]),
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
