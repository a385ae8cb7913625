# Semantic FPN with a small XCiT (4 XCiT layers of 96 dims, 4 heads, patch
# 16) on the bundled shapes (ADE20K layout, 128x128 images, background + 3
# shapes): trains from scratch on CPU through tools/train.py and reports
# mIoU at the end. The design of configs/xcit/semfpn-xcit-tiny-12-p16_
# 8xb2_ade20k.py (the 4 layers' stride-16 maps -> mmvitplug.ScalePyramid
# -> strides 4, 8, 16, 32 -> mmseg's FPN -> FPNHead, no auxiliary head)
# with 64-channel FPN and head, BN instead of SyncBN, and the schedule of
# the other bundled segmentation configs
# (_base_/schedules/shapes-ade_adamw_500i.py). The Fourier position
# encoding is computed for any grid, so whole test images go through the
# model (padded to a multiple of 32, the coarsest pyramid stride).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

crop_size = (128, 128)
embed_dims = 96
channels = 64
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.XCiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            patch_size=16,
            init_values=1.0),
        out_type='featmap',
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
            out_channels=channels,
            num_outs=4),
    ],
    decode_head=dict(
        in_channels=[channels] * 4,
        feature_strides=[4, 8, 16, 32],
        channels=channels,
        norm_cfg=norm_cfg,
        num_classes=4),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
