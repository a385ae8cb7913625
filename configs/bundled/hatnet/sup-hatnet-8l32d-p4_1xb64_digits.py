# HAT-Net on the bundled digits (32x32): the two-convolution stem (stride
# 4), then four stages of 32 / 64 / 96 / 128 channels and 1 / 1 / 2 / 1
# blocks (H-MHSA with head_dim 32: local attention in 4x4 / 2x2 / 2x2
# cells and global attention to tokens pooled 4 / 2 / 2, the last stage
# global only; inverted residuals with expansion 4), stages 2-4 opened by
# a stride-2 convolution: 8 trunk layers, maps of 8x8, 4x4, 2x2 and 1x1,
# the classifier's dropout 0.2 as the official model. AdamW + warm-up +
# cosine of the transformer digits schedule at a small-data lr, stochastic
# depth 0.1.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.HATNet',
        arch=dict(
            embed_dims=(32, 64, 96, 128),
            head_dim=32,
            depths=(1, 1, 2, 1),
            expansions=(4, 4, 4, 4),
            grid_sizes=(4, 2, 2, 1),
            ds_ratios=(4, 2, 2, 1),
            kernel_sizes=(3, 3, 3, 3)),
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.DropoutLinearClsHead',
        num_classes=10,
        in_channels=128,
        dropout_rate=0.2,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
