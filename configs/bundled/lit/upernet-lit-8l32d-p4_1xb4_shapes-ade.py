# UperNet with a small LIT (32 / 64 / 128 / 256 channels, 1 / 1 / 2 / 1
# blocks, attention in the last two stages) on the bundled shapes (ADE20K
# layout, 128x128 images, background + 3 shapes): trains from scratch on CPU
# through tools/train.py and reports mIoU at the end. The four stage maps
# (LIT-S style: stages 1-3 through their output norms; relative-position
# tables made for 128x128, resized to other grids) feed mmseg's UPerHead
# directly (64 channels, BN), the FCN auxiliary head reads stride 16; any
# input size; the schedule of the other bundled UperNet configs
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
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='mmvitplug.LIT',
        arch=dict(
            embed_dims=(32, 64, 128, 256),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 4, 8),
            mlp_ratios=(4, 4, 4, 4),
            has_msa=(0, 0, 1, 1),
            position='relative'),
        img_size=128,
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        num_classes=4),
    auxiliary_head=dict(
        in_channels=128,
        in_index=2,
        num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
