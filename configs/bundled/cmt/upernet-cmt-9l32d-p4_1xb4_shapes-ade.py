# UperNet with a small CMT (32 / 48 / 64 / 96 channels, 1 / 2 / 2 / 4
# heads, 1 / 1 / 2 / 1 blocks, CMT's key / value reductions 8 / 4 / 2 / 1)
# on the bundled shapes (ADE20K layout, 128x128 images, background + 3
# shapes): trains from scratch on CPU through tools/train.py and reports
# mIoU at the end. The four stage maps (strides 4, 8, 16, 32) feed mmseg's
# UPerHead directly (64 channels, BN), the FCN auxiliary head reads stride
# 16; position biases learned for 128x128, resized for other inputs (test
# images are padded to multiples of 32); the schedule of the other bundled
# UperNet configs (_base_/schedules/shapes-ade_adamw_500i.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='mmvitplug.CMT',
        arch=dict(
            embed_dims=(32, 48, 64, 96),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 2, 4),
            mlp_ratio=3.6,
            stem_channels=16,
            img_size=128),
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=[32, 48, 64, 96],
        in_index=[0, 1, 2, 3],
        num_classes=4),
    auxiliary_head=dict(
        in_channels=64,
        in_index=2,
        num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
