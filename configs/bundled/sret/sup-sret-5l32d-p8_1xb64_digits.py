# SReT on the bundled digits (32x32): the convolutional stem (stride 8) and
# a position embedding made for 32x32, then three stages of 32 / 64 / 128
# channels, 1 / 2 / 4 heads and one recursive unit each (a block applied
# twice with shared weights, a non-linear projection after each; stage 1
# attends in 2 slices, then 2 slices of permuted tokens), stages 2-3
# opened by a grouped stride-2 convolution: 5 trunk layers, maps of 4x4,
# 2x2 and 1x1; the head on the normalised mean of the last stage's tokens.
# AdamW + warm-up + cosine of the transformer digits schedule at a
# small-data lr, stochastic depth 0.1 (the official spread).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.SReT',
        arch=dict(
            embed_dims=(32, 64, 128),
            num_heads=(1, 2, 4),
            depths=(1, 1, 1),
            groups1=(2, 1, 1),
            groups2=(2, 1, 1),
            mlp_ratio=3.6,
            np_mlp_ratio=1.),
        img_size=32,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
