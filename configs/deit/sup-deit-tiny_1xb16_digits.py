# DeiT student WITHOUT a teacher on the bundled digits (32x32), the baseline
# of distill-hard-deit-tiny_1xb16_digits.py (same student, same schedule).
#
# Sized for a CPU budget of ~1.5 CPU minutes (measured on this data):
# deit-tiny widths (192 dims, 3 heads) with 4 of its 12 blocks and patch
# size 8, i.e. a 4x4 grid of tokens each covering 2x2 pixels of the original
# 8x8 digit. Patch size 4 (one token per digit pixel) costs 3.7x more and
# learns far slower in this budget; so do batch 64 (fewer optimizer steps)
# and random shifts that break the alignment of digit pixels and patches.
_base_ = [
    '../_base_/datasets/digits.py',
    '../_base_/default_runtime.py',
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

# The DeiT optimizer (AdamW, no decay on norms, biases, tokens and position
# embedding; '.dist_token' is for the distilled student inheriting this
# file) with warm-up and cosine decay, at a small-data lr.
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=5e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=15, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=30),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
