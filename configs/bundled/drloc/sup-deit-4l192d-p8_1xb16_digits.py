# The baseline of drloc-deit-4l192d-p8_1xb16_digits.py: the same DeiT, data
# and schedule WITHOUT the DRLoc loss (identical to
# bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py, repeated here because a
# config inherits only from its own folder).
# Source: bundled-data smoke config, not a paper recipe.
#
# A 4-block DeiT with deit-tiny's widths (192 dims, 3 heads, MLP 768) on
# 8x8 patches of the 32x32 digits: a 4x4 grid of tokens; 15 epochs of
# AdamW (lr 5e-4, batch 16), no augmentation.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
