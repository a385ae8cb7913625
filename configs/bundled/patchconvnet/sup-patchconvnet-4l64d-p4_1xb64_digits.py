# PatchConvNet on the bundled digits (32x32): a narrow, shallow column
# (64 channels, 4 blocks, LayerScale init 0.1 to learn fast from scratch)
# with a patch-4 convolutional stem (two stride-2 3x3 convolutions, 32 then
# 64 channels) so the 8x8 digit keeps one feature per original pixel, and
# the attention-based aggregation (one class token) instead of average
# pooling (patchconvnet-s60 has 60 blocks of 384 channels).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first:
# python tools/make_bundled_data.py
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch=dict(embed_dims=64, num_layers=4, init_values=0.1),
        patch_size=4,
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(optimizer=dict(lr=2e-3))
