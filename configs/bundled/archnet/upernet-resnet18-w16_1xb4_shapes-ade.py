# UperNet with an Arch-Net ResNet-18 student (mmvitplug.ArchNetResNet:
# 2-bit 3x3 convolutions, 4-bit activations, concatenations instead of
# additions; 16 / 32 / 48 / 64 channels) on the bundled shapes (ADE20K
# layout, 128x128 images, background + 3 shapes): trains
# quantisation-aware from scratch on CPU through tools/train.py and reports
# mIoU at the end. The four stage maps (strides 4-32) feed mmseg's
# UPerHead directly (64 channels, BN), the FCN auxiliary head reads the
# stride-16 map; the schedule of the other bundled UperNet configs
# (_base_/schedules/shapes-ade_adamw_500i.py). The recipe at scale:
# archnet/upernet-resnet18_4xb4_ade20k.py.
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
        type='mmvitplug.ArchNetResNet',
        arch=dict(depths=[2, 2, 2, 2], widths=channels),
        w_bits=2,
        a_bits=4,
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=channels, in_index=[0, 1, 2, 3], num_classes=4),
    auxiliary_head=dict(in_channels=channels[2], in_index=2, num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
