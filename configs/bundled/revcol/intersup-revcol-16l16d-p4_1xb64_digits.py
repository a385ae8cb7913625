# RevCol on the bundled digits (32x32), trained from scratch with the
# intermediate supervision of its ImageNet training: a stride-4 stem, then
# 4 columns of 4 levels (16 / 32 / 48 / 64 channels, one ConvNeXt block
# each: maps of 8x8 .. 1x1), reversible columns; level 3 of every column is
# classified (LayerNorm + Linear on the pooled map) and the first three are
# decoded back to the image (the official compound loss, FCOE 3.0 / CCOE
# 0.7); the last column's classifier predicts. AdamW + warm-up + cosine of
# the transformer digits schedule at a small-data lr, no decay on 1-D
# tensors (the shortcuts alpha are decayed, as officially).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

channels = (16, 32, 48, 64)
model = dict(
    type='mmvitplug.RevColClassifier',
    backbone=dict(
        type='mmvitplug.RevCol',
        arch=dict(channels=channels, depths=(1, 1, 1, 1), num_columns=4),
        out_columns=(0, 1, 2, 3),
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.RevColClsHead',
        num_classes=10,
        in_channels=channels[-1],
        num_outputs=4,
        decoder_channels=channels,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
