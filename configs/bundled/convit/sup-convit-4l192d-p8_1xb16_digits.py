# ConViT on the bundled digits (32x32), sized and trained exactly as the
# DeiT student baseline ../deit/sup-deit-4l192d-p8_1xb16_digits.py (4
# blocks of 192 dims, patch size 8: a 4x4 grid of tokens; batch 16, lr
# 5e-4, 15 epochs), with ConViT-Ti's heads (4 of 48 dims): 3 GPSA blocks
# initialised as a convolution, then the class token joins and one
# self-attention block (ConViT-Ti: 10 GPSA of 12 blocks). No stochastic
# depth, as the DeiT baseline: only the backbone differs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ConViT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=4,
            feedforward_channels=768, local_up_to_layer=3),
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

# no random shifts, as the DeiT baseline
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
