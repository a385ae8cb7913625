# PiT on the bundled digits (32x32): PiT's design at digits scale, an
# overlapping 8x8 stride-4 convolutional patch embedding (no padding: a 7x7
# map), a spatial position embedding, a class token, three stages of
# 64 / 128 / 256 channels (2 / 4 / 8 heads, 1 / 2 / 2 blocks) with PiT's
# depth-wise convolutional pooling between them (maps of 7x7, 4x4, 2x2):
# 7 trunk layers (5 blocks and 2 pooling layers). AdamW + warm-up + cosine
# of the transformer digits schedule, at a small-data lr; stochastic
# depth 0.1 as the ImageNet configs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.PiT',
        arch=dict(
            embed_dims=(64, 128, 256),
            depths=(1, 2, 2),
            num_heads=(2, 4, 8),
            patch_kernel=8,
            patch_stride=4),
        img_size=32,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
