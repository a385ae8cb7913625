# LIT (LIT-S style) on the bundled digits (32x32): a 4x4 patch embedding,
# then four stages of 32 / 64 / 128 / 256 channels and 1 / 1 / 2 / 1 blocks
# (MLP blocks only in the first two; global attention with a
# relative-position bias and 1 / 2 / 4 / 8 heads in the last two, tables
# made for 32x32), stages 2-4 opened by a deformable token merging: 8 trunk
# layers, maps of 8x8, 4x4, 2x2 and 1x1, the head on the mean of the
# normalised last-stage tokens. AdamW + warm-up + cosine of the transformer
# digits schedule at a small-data lr, the offsets' lr x 0.01 as the
# official recipe, stochastic depth 0.1.
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
            embed_dims=(32, 64, 128, 256),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 4, 8),
            mlp_ratios=(4, 4, 4, 4),
            has_msa=(0, 0, 1, 1),
            position='relative'),
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
    optimizer=dict(lr=2e-3),
    paramwise_cfg=dict(
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.0),
            'conv_offset.weight': dict(lr_mult=0.01),
        }))
