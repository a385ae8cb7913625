# CvT on the bundled digits (32x32): three stages as CvT-13 (7x7 stride-4
# convolutional embedding, then 3x3 stride-2 ones; depthwise-conv
# projections with stride-2 keys / values; QuickGELU; the class token in
# the last stage) at 32 / 64 / 96 channels, 1 / 2 / 3 heads and 1 / 1 / 2
# blocks: 6 trunk layers (4 blocks and the embeddings of stages 1 and 2),
# maps of 8x8, 4x4 and 2x2. AdamW + warm-up + cosine of the transformer
# digits schedule, at a small-data lr; the official per-stage stochastic
# depth (0, 0, 0.1).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CvT',
        arch=dict(
            embed_dims=(32, 64, 96), num_heads=(1, 2, 3), depths=(1, 1, 2)),
        drop_path_rate=[0., 0., 0.1]),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=96,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(
    optimizer=dict(lr=2e-3),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
