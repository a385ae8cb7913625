# CMT on the bundled digits (32x32): the CMT stem (stride 2), then four
# stages of 32 / 48 / 64 / 96 channels, 1 / 2 / 2 / 4 heads and 1 / 1 / 2 /
# 1 blocks, each opened by its 2x2 patch embedding: 9 trunk layers, maps of
# 8x8, 4x4, 2x2 and 1x1. Keys and values are reduced 4 / 2 / 1 / 1 times
# (CMT-S: 8 / 4 / 2 / 1, which would leave one key per stage at 32x32);
# position biases learned for 32x32. The classification features are a 1x1
# conv to 256 channels (CMT-S: 1280), BN, Swish, pooling, dropout 0.1. AdamW
# + warm-up + cosine of the transformer digits schedule, at a small-data
# lr; stochastic depth 0.1.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CMT',
        arch=dict(
            embed_dims=(32, 48, 64, 96),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 2, 4),
            mlp_ratio=3.6,
            stem_channels=16,
            sr_ratios=(4, 2, 1, 1),
            img_size=32),
        head_dims=256,
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
optim_wrapper = dict(optimizer=dict(lr=2e-3))
