# UperNet with a small CCT (a 7x2 tokenizer, i.e. stride 16 like
# cct-14-7x2, then 4 CCT layers of 96 dims, 4 heads, MLP 192) and
# mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 shapes): trains from scratch on CPU through tools/train.py
# and reports mIoU at the end. The recipe of
# configs/cct/upernet-cct-14-7x2_8xb2_ade20k.py scaled down exactly as the
# bundled DeiT one (_base_/models/upernet_simplefpn-c64.py,
# _base_/schedules/shapes-ade_adamw_500i.py): only the backbone differs.
# The position embedding is interpolated to any token grid, so whole test
# images go through the model (padded to a multiple of the stride 16).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet_simplefpn-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
embed_dims = 96

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=16)),
    backbone=dict(
        type='mmvitplug.CCT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 2,
            kernel_size=7,
            num_conv_layers=2),
        img_size=crop_size,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    decode_head=dict(num_classes=4),
    auxiliary_head=dict(num_classes=4),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
