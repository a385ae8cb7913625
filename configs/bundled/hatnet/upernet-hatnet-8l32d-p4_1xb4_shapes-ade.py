# UperNet with a small HAT-Net (32 / 64 / 96 / 128 channels, 1 / 1 / 2 / 1
# blocks, H-MHSA in 4x4 / 2x2 / 2x2 cells then global) on the bundled
# shapes (ADE20K layout, 128x128 images, background + 3 shapes): trains
# from scratch on CPU through tools/train.py and reports mIoU at the end.
# The four stage maps (strides 4, 8, 16, 32) feed mmseg's UPerHead
# directly (64 channels, BN), the FCN auxiliary head reads stride 16; any
# input size (H-MHSA pads and masks its edge cells); the schedule of the
# other bundled UperNet configs (_base_/schedules/shapes-ade_adamw_500i.py).
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
        type='mmvitplug.HATNet',
        arch=dict(
            embed_dims=(32, 64, 96, 128),
            head_dim=32,
            depths=(1, 1, 2, 1),
            expansions=(4, 4, 4, 4),
            grid_sizes=(4, 2, 2, 1),
            ds_ratios=(4, 2, 2, 1),
            kernel_sizes=(3, 3, 3, 3)),
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        in_channels=[32, 64, 96, 128],
        in_index=[0, 1, 2, 3],
        num_classes=4),
    auxiliary_head=dict(
        in_channels=96,
        in_index=2,
        num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
