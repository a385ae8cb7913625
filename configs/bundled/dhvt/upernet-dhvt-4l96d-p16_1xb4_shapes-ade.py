# UperNet with a small DHVT (4 blocks of 96 dims, 4 heads, patch 16) on
# the bundled shapes (ADE20K layout, 128x128 images, background + 3
# shapes): trains from scratch on CPU through tools/train.py and reports
# mIoU at the end. The design of configs/dhvt/upernet-dhvt-s_8xb2_
# ade20k.py (mmvitplug.ScalePyramid: the 4 blocks' stride-16 maps ->
# strides 4, 8, 16, 32, into UPerHead) with the bundled 64-channel heads
# and schedule of the other bundled UperNet configs
# (_base_/models/upernet_simplefpn-c64.py, whose SimpleFPN neck is
# replaced, _base_/schedules/shapes-ade_adamw_500i.py). DHVT has no
# position embedding, so whole test images of any size go through the
# model (its stride-2 convolutions round odd sides up).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet_simplefpn-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
embed_dims = 96

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=16)),
    backbone=dict(
        type='mmvitplug.DHVT',
        arch=dict(
            embed_dims=embed_dims, num_layers=4, num_heads=4, patch_size=16),
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='mmvitplug.ScalePyramid',
        in_channels=embed_dims,
        in_stride=16,
        out_strides=(4, 8, 16, 32)),
    decode_head=dict(in_channels=[embed_dims] * 4, num_classes=4),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=4),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
