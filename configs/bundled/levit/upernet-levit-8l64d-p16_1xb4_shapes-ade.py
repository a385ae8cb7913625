# UperNet with a small LeViT (the digits arch: 64 / 96 / 128 channels, 8
# trunk layers) on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 shapes), from scratch on CPU through tools/train.py. The
# pyramid of configs/levit/upernet-levit-128s_8xb2_ade20k.py: activated
# stem maps at strides 4 and 8 + the three stages at 16, 32, 64, all read
# by UPerHead (64 channels, as _base_/models/upernet_simplefpn-c64.py);
# the auxiliary head reads the first stage. Any input size works (the
# attention biases are resized to the grid), so whole test images go
# through the model.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet_simplefpn-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
arch = dict(embed_dims=[64, 96, 128], key_dim=16, num_heads=[4, 6, 8],
            depths=[2, 2, 2])
channels = [16, 32, 64, 96, 128]

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.LeViT',
        arch=arch,
        img_size=crop_size,
        out_type='featmap',
        out_indices=(0, 1, 2),
        stem_out_strides=(4, 8),
        drop_path_rate=0.),
    neck=None,
    decode_head=dict(in_channels=channels, in_index=[0, 1, 2, 3, 4],
                     num_classes=4),
    auxiliary_head=dict(in_channels=64, in_index=2, num_classes=4),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
