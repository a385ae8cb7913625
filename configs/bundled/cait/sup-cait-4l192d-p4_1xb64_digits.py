# CaiT on the bundled digits (32x32): cait-xxs24 widths (192 dims, 4 heads,
# talking heads, LayerScale) with 4 instead of 24 self-attention blocks, the
# 2 class-attention blocks, patch size 4 (one patch per pixel of the
# original 8x8 digit). LayerScale starts at 0.1 (the paper's value for
# depths up to 18). AdamW + warm-up + cosine as in the DeiT recipe CaiT
# follows, at a small-data lr.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CaiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=4,
            feedforward_channels=768, init_values=0.1),
        img_size=32,
        patch_size=4,
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
