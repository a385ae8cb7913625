# DHVT on the bundled digits (32x32), trained from scratch: the small-data
# design of the paper at micro scale: a SOPE stem of patch size 4 (two
# stride-2 3x3 convolutions with BN, affines before and after: an 8x8
# grid, one token per pixel of the original 8x8 digit), 4 blocks of 96
# dims and 4 heads (head tokens in the attention, DAFF feed-forward, no
# position embedding), the class token to the head. AdamW + warm-up +
# cosine of the transformer digits schedule at a small-data lr, stochastic
# depth 0.1 as the official default.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DHVT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=4, patch_size=4),
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=96,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
