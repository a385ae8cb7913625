# UperNet with a small SReT (32 / 64 / 128 channels, one recursive unit a
# stage, slices 2 / 1 / 1) on the bundled shapes (ADE20K layout, 128x128
# images, background + 3 shapes): trains from scratch on CPU through
# tools/train.py and reports mIoU at the end. The three stage maps
# (strides 8, 16, 32) feed mmseg's UPerHead directly (64 channels, BN; no
# stride-4 level), the FCN auxiliary head reads stride 16; the schedule of
# the other bundled UperNet configs
# (_base_/schedules/shapes-ade_adamw_500i.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)

model = dict(
    data_preprocessor=dict(size=crop_size),
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
    decode_head=dict(
        in_channels=[32, 64, 128],
        in_index=[0, 1, 2],
        num_classes=4),
    auxiliary_head=dict(
        in_channels=64,
        in_index=1,
        num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
