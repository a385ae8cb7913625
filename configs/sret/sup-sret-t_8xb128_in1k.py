# SReT-T trained on ImageNet-1k at 224 (https://arxiv.org/abs/2111.05297;
# 76.0 top-1, 4.8M parameters in the official README). The official
# repository (szq0214/SReT) gives the model code only (its training
# configurations are behind Google-Drive links, unverified here); the
# paper builds on DeiT / PiT, so this is the DeiT recipe of
# ../_base_/schedules/deit_adamw_300e.py (AdamW, lr 5e-4 x total batch /
# 512 by auto_scale_lr, weight decay 0.05 except on biases, norms and the
# position embedding, 5 warm-up epochs from 1e-6, cosine to 1e-5, 300
# epochs) and ../_base_/datasets/imagenet_deit.py (RandAugment, random
# erasing 0.25, repeated augmentation, Mixup 0.8 / CutMix 1.0, label
# smoothing 0.1, evaluation resize 256 then centre crop 224), on 8 GPUs x
# 128 images, with the official model's default stochastic depth 0.1. The
# README notes that lr 1e-3 x batch / 512 with 30 warm-up epochs does
# better: override optim_wrapper.optimizer.lr and the schedulers to try it.
# Source: official README and SReT.py (drop_path_rate default); DeiT
# paper, Table 9 (the recipe).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.SReT', arch='sret-t', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
