# UperNet with GhostNet 0.5x (the smallest zoo arch: width 0.5, 8-channel
# stem and first stage, 17 trunk layers) on the bundled shapes (ADE20K
# layout, 128x128 images, background + 3 shapes): trains from scratch on
# CPU through tools/train.py and reports mIoU at the end. The ends of
# stages 2, 4, 6 and 9 (strides 4, 8, 16, 32; 12 / 20 / 56 / 480 channels)
# feed mmseg's UPerHead directly (64 channels, BN), the FCN auxiliary head
# reads the stride-16 map; any input size (stride-2 convolutions round
# up); the schedule of the other bundled UperNet configs
# (_base_/schedules/shapes-ade_adamw_500i.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
channels = [12, 20, 56, 480]

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.GhostNet',
        arch='ghostnet-0.5x',
        out_indices=(2, 4, 6, 9)),
    decode_head=dict(
        in_channels=channels, in_index=[0, 1, 2, 3], num_classes=4),
    auxiliary_head=dict(in_channels=channels[2], in_index=2, num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
