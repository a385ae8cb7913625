# GhostNet 0.5x, the smallest zoo arch (0.7M backbone parameters: width
# 0.5, 8-channel stem and first stage), on the bundled digits (32x32),
# trained from scratch: the official stem (3x3 stride-2 convolution), nine
# stages of 16 Ghost bottlenecks (SE in stages 3, 4, 6-8) and the 1x1
# convolution to 480 channels: 17 trunk layers, maps of 16x16 (stride 2)
# down to 1x1; the official classifier (GAP, 1x1 conv to 1280 + ReLU,
# dropout 0.2, fc: mmvitplug.GhostNetClsHead). AdamW + warm-up + cosine of
# the digits schedule at a small-data lr, no weight decay on 1-D
# parameters.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.GhostNet', arch='ghostnet-0.5x'),
    neck=None,
    head=dict(
        type='mmvitplug.GhostNetClsHead',
        num_classes=10,
        in_channels=480,
        dropout_rate=0.2,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
