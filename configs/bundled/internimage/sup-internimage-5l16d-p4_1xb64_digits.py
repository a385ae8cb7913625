# InternImage on the bundled digits (32x32), trained from scratch: the
# official stem (two 3x3 stride-2 convolutions, 16 channels), then four
# levels of 16 / 32 / 64 / 128 channels and 1 / 1 / 2 / 1 DCNv3 blocks
# (1 / 2 / 4 / 8 groups of 16 channels), pre-norm without layer scale as
# InternImage-T: 5 trunk layers, maps of 8x8, 4x4, 2x2 and 1x1; the
# official classifier (mmvitplug.InternImageClsHead: 1x1 conv to 192
# channels, BN, GELU, mean pooling, fc). AdamW + warm-up + cosine of the
# transformer digits schedule at a small-data lr, no weight decay on 1-D
# parameters, stochastic depth 0.1; no EMA (too few steps).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

channels = 16
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.InternImage',
        arch=dict(channels=channels, depths=(1, 1, 2, 1), groups=(1, 2, 4, 8)),
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.InternImageClsHead',
        num_classes=10,
        in_channels=channels * 8,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
