# UperNet with a small PiT (as the Mask R-CNN one: 16x16 stride-8 patch
# embedding, 32 / 64 / 128 channels, 1 / 2 / 4 heads, 1 / 1 / 2 blocks) on
# the bundled shapes (ADE20K layout, 128x128 images, background + 3
# shapes): trains from scratch on CPU through tools/train.py and reports
# mIoU at the end. The three stage maps (strides 8, 16, 32: 15x15, 8x8,
# 4x4) feed mmseg's UPerHead directly (64 channels, BN), the FCN
# auxiliary head reads stride 16; the schedule of the other bundled
# UperNet configs (_base_/schedules/shapes-ade_adamw_500i.py). The
# position embedding is resized on the fly, so whole test images of any
# size go through.
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
        type='mmvitplug.PiT',
        arch=dict(
            embed_dims=(32, 64, 128),
            depths=(1, 1, 2),
            num_heads=(1, 2, 4),
            patch_kernel=16,
            patch_stride=8),
        img_size=crop_size,
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
