# UperNet with a small RevCol (4 columns of 4 levels: 16 / 32 / 48 / 64
# channels, one ConvNeXt block each) on the bundled shapes (ADE20K layout,
# 128x128 images, background + 3 shapes): trains from scratch on CPU
# through tools/train.py and reports mIoU at the end. The last column's
# four levels (strides 4-32) into UPerHead, the auxiliary FCN head on
# level 2, with the bundled 64-channel heads and schedule of the other
# bundled UperNet configs (_base_/models/upernet-c64.py,
# _base_/schedules/shapes-ade_adamw_500i.py). Inputs of any size are
# padded to multiples of 32 inside the backbone, the maps cropped back.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
channels = [16, 32, 48, 64]

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.RevCol',
        arch=dict(channels=channels, depths=(1, 1, 1, 1), num_columns=4),
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=channels, in_index=[0, 1, 2, 3], num_classes=4),
    auxiliary_head=dict(in_channels=channels[2], in_index=2, num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
