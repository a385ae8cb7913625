# SPViT-DeiT-Ti fine-tuning (He et al. 2021,
# https://arxiv.org/abs/2111.11802; official README: 70.7 top-1 at 1.0
# GFLOPs; official SPViT_DeiT/config/spvit_deit_ti_l200_t10_ft.json): the
# official searched architecture as a plain mmvitplug.SPViT: blocks 0 and 1
# 1 x 1 convolutions derived from the attention (assigned_indicators
# [1, 0, 0]), MSA elsewhere; the FFN hidden units the released search kept
# (ffn_indicators/spvit_deit_ti_l200_t10_search_10epoch.pth, counted per
# block), fine-tuned with label-smoothed CE (0.1; Mixup 0.8 / CutMix 1.0).
# Weights: the exported search checkpoint (load_from; written by
# tools/model_converters/spvit_export.py with this config).
# Optimizer (official): AdamW lr 5e-5 x batch / 512 (1e-4 at 4 x 256),
# weight decay 0.05 (none on 1-D parameters, class token and position
# embedding), no warm-up, cosine to min_lr 1e-5 over 130 epochs, drop path
# 0.1, repeated augmentation, the DeiT augmentations.
# Source: official config/spvit_deit_ti_l200_t10_ft.json + params.py.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.SPViT',
        backbone=dict(
            type='mmvitplug.DeiT', arch='deit-tiny', drop_path_rate=0.1),
        msa_choices=['conv1x1'] * 2 + ['msa'] * 10,
        ffn_hidden=[
            744, 758, 764, 767, 766, 764, 756, 659, 633, 473, 179, 145
        ]),
    neck=None,
    head=dict(
        type='LinearClsHead', num_classes=1000, in_channels=192,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
            loss_weight=1.0)))
load_from = \
    'work_dirs/spvit-search-deit-tiny_4xb256-10e_in1k/spvit_exported.pth'

train_dataloader = dict(batch_size=256)
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))
max_epochs = 130
param_scheduler = [
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0,
        end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
