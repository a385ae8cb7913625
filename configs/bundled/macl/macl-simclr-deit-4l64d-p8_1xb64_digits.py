# MACL (model-aware contrastive learning, Huang et al., ICML 2023,
# https://arxiv.org/abs/2207.07874) in mmpretrain's SimCLR, unchanged: only
# the head is mmvitplug.MACLHead. A tiny DeiT on the bundled digits (32x32).
# Source: bundled-data smoke config, not a paper recipe.
#
# Backbone: 4 blocks of 64 channels on 8x8 patches (a 4x4 grid of tokens,
# each covering 2x2 pixels of the original 8x8 digit; sized for a loaded
# 2-core CPU), the class token after the final norm as the
# representation (what the k-NN config knn-deit-4l64d-p8_1xb128_digits.py
# evaluates). Projection: SimCLR's 2-layer MLP 64 -> 128 -> 64 with
# BatchNorm. Loss: MACL with tau0 0.1 (SimCLR's temperature), alpha 0.5,
# A0 0 (lightly's MACLLoss defaults; the paper's values are not in any
# released code). Views: random resized crops (scale 0.5-1) and
# brightness / contrast jitter; no flips (they change digits), no colour
# (grey images). The AdamW schedule of the bundled configs (lr 1e-3 for
# batch 64), one warm-up epoch, cosine over 20 epochs (small-data values,
# not tuned). Plain InfoNCE at the same budget (the MACL-vs-InfoNCE
# comparison): --cfg-options model.head.loss.alpha=0
# model.head.loss.reweight=False (= mmpretrain's ContrastiveHead).
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.5, 1.),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
]
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackInputs'),
    ]))

model = dict(
    type='SimCLR',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    neck=dict(
        type='NonLinearNeck',
        in_channels=64,
        hid_channels=128,
        out_channels=64,
        num_layers=2,
        norm_cfg=dict(type='BN1d'),
        with_avg_pool=False),
    head=dict(
        type='mmvitplug.MACLHead',
        loss=dict(
            type='mmvitplug.MACLLoss', temperature=0.1, alpha=0.5, a0=0.)),
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean={{_base_.data_preprocessor.mean}},
        std={{_base_.data_preprocessor.std}},
        to_rgb=True),
)

# pre-training only: no validation loop
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(by_epoch=True, max_epochs=20)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=20, convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=64, enable=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best=None))
