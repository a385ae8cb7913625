# A small G-Ghost RegNet on the bundled digits (32x32), trained from
# scratch: the official stem (3x3 stride-2 convolution, 32 channels), then
# four stages of 16 / 32 / 48 / 64 channels and 1 / 3 / 4 / 3 RegNetX
# blocks (group width 8; 6 in the G-Ghost stages' inner blocks): a plain
# first stage and three G-Ghost stages (half the channels from the inner
# blocks, the rest cheaply from the stage's base block): 4 trunk layers,
# maps of 8x8, 4x4, 2x2 and 1x1; the official classifier (average pooling,
# dropout 0.2, fc). AdamW + warm-up + cosine of the digits schedule, no
# weight decay on 1-D parameters, at lr 1e-2 (the 80k-parameter model
# underfits at the transformers' 2e-3: 74% top-1 after 15 epochs). (The
# merge branch's BN sees one value per image: batches need at least 2
# images.)
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

widths = (16, 32, 48, 64)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.GGhostRegNet',
        arch=dict(depths=(1, 3, 4, 3), widths=widths, group_width=8)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmvitplug.DropoutLinearClsHead',
        num_classes=10,
        in_channels=widths[-1],
        dropout_rate=0.2,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=1e-2))
