# LIT-Ti style LIT on the bundled digits (32x32): a 4x4 patch embedding,
# then four stages of 32 / 64 / 96 / 128 channels and 1 / 1 / 2 / 1 blocks
# (MLP blocks, ratio 8, in the first two; plain attention with 1 / 2 / 3 /
# 4 heads, MLP ratio 4, in the last two), a learned position embedding per
# stage (made for 32x32), stages 2-4 opened by a deformable token merging,
# a class token joining the last stage and read by the head: 8 trunk
# layers, maps of 8x8, 4x4, 2x2 and 1x1. AdamW + warm-up + cosine of the
# transformer digits schedule at a small-data lr, the offsets' lr x 0.01 as
# the official recipe, stochastic depth 0.1.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.LIT',
        arch=dict(
            embed_dims=(32, 64, 96, 128),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 3, 4),
            mlp_ratios=(8, 8, 4, 4),
            has_msa=(0, 0, 1, 1),
            position='absolute',
            norm_eps=1e-6),
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
optim_wrapper = dict(
    optimizer=dict(lr=2e-3),
    paramwise_cfg=dict(
        custom_keys={'conv_offset.weight': dict(lr_mult=0.01)}))
