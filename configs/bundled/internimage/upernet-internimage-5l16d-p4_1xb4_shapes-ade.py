# UperNet with a small InternImage (16 / 32 / 64 / 128 channels, 1 / 1 / 2
# / 1 DCNv3 blocks of 16-channel groups, pre-norm as InternImage-T) on the
# bundled shapes (ADE20K layout, 128x128 images, background + 3 shapes):
# trains from scratch on CPU through tools/train.py and reports mIoU at the
# end. The four levels (strides 4-32, through their output norms) feed
# mmseg's UPerHead directly (64 channels, BN), the FCN auxiliary head reads
# level 2 (stride 16); any input size (level i is ceil(H / 2^(i + 2)),
# nothing padded); the schedule of the other bundled UperNet configs
# (_base_/schedules/shapes-ade_adamw_500i.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
channels = [16, 32, 64, 128]

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.InternImage',
        arch=dict(
            channels=channels[0], depths=(1, 1, 2, 1), groups=(1, 2, 4, 8)),
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=channels, in_index=[0, 1, 2, 3], num_classes=4),
    auxiliary_head=dict(in_channels=channels[2], in_index=2, num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
