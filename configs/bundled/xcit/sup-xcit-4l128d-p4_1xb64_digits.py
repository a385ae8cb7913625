# XCiT on the bundled digits (32x32): xcit-nano widths (128 dims, 4 heads,
# XCA + LPI + MLP, LayerScale eta 1.0 as the 12-layer models, tokens_norm)
# with 4 instead of 12 XCiT layers, the 2 class-attention layers and a
# 2-conv stem of patch size 4 (an 8x8 grid: one token per pixel of the
# original 8x8 digit; the Fourier position encoding is computed for it).
# AdamW + warm-up + cosine as the DeiT recipe XCiT follows, at a small-data
# lr.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.XCiT',
        arch=dict(
            embed_dims=128, num_layers=4, num_heads=4, patch_size=4,
            init_values=1.0),
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
