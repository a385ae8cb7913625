# DeiT-S (ViT-S/16) trained on ImageNet-1k with cosub
# (https://arxiv.org/abs/2212.04884): two stochastic-depth submodels per
# image, each the soft teacher of the other (mmvitplug.CoSubClassifier +
# mmvitplug.CoSubLoss: BCE label terms and BCE mutual terms against the
# other submodel's sigmoid, lam=0.5, i.e. the four terms at 0.25 as in the
# official code).
# Recipe: cosub trains on the DeiT III recipe (official facebookresearch/deit
# code, README_revenge.md command for ViT-S on ImageNet-1k): LAMB, lr 4e-3
# for a total batch of 2048 (scaled here by auto_scale_lr: 2e-3 for 8 x 128),
# weight decay 0.05 (none on 1-D parameters, pos_embed and cls_token, as
# timm's optimizer factory), 5 warm-up epochs from 1e-6, cosine to 1e-5,
# 800 epochs, 3-Augment (RandomResizedCrop + flip, then one of grayscale /
# solarization / Gaussian blur, colour jitter 0.3), no RandAugment, no
# random erasing, no label smoothing, Mixup 0.8 / CutMix 1.0, repeated
# augmentation, evaluation at crop ratio 1.0, stochastic depth 0.05.
# Architecture: DeiT III's ViT-S (official deit_small_patch16_LS, arch
# 'deit3-small'): LayerScale initialised at 1e-4, the same stochastic-depth
# rate 0.05 in every block, a position embedding of the patches only.
# Difference from the official ViT-S run: DeiT III's --bce-loss
# binarisation of mixed targets is not applied (cosub's BCE uses the mixed
# scores).
# Source: cosub paper and the official README_revenge.md ViT-S command.
_base_ = [
    '../_base_/datasets/imagenet_3aug.py',
    '../_base_/schedules/deit_lamb_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.CoSubClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit3-small',  # LayerScale, uniform drop path, patch pos_embed
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    loss=dict(
        type='mmvitplug.CoSubLoss',
        lam=0.5,
        label_loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
        mutual_loss='bce'),
)

optim_wrapper = dict(optimizer=dict(lr=4e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 4e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=800,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=800)
