# The student of the bundled TransKD configs, alone (their baseline): SegFormer
# with a MiT of MiT-B0's widths (32 / 64 / 160 / 256 channels, 1 / 2 / 5 / 8
# heads) and one block per stage, an all-MLP head of 64 channels, from
# scratch on the bundled shapes (ADE20K layout, 128x128 images, background +
# 3 shapes), 500 iterations of batch 8 (_base_/schedules/
# shapes-ade_segformer_adamw_500i.py). transkd-*-mit-4l32d-p4_*: the same
# student distilled from segformer-mit-4l64d-p4_1xb8_shapes-ade.py.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/segformer-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_segformer_adamw_500i.py',
]

model = dict(
    backbone=dict(embed_dims=32, num_layers=[1, 1, 1, 1]),
    decode_head=dict(in_channels=[32, 64, 160, 256], num_classes=4))
train_dataloader = dict(batch_size=8, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
