# CCT-7/3x1 (learnable position embedding) trained from scratch on
# CIFAR-10 at 32x32 for 300 epochs (official 96.53 top-1,
# cct_7_3x1_32_cifar10_300epochs.pth). Recipe of the official
# configs/pretrained/cct_7-3x1_cifar10_300epochs.yml run by its train.py
# (timm's) as the README's non-distributed command (1 GPU x 128 images):
# AdamW, lr 5.5e-4 for the batch of 128 (timm's train.py does not rescale
# it), weight decay 0.06 on every tensor of >= 2 dims (timm's optimizer
# factory: no decay on biases and norms only), 10 warm-up epochs from 1e-5,
# cosine to 1e-5 over 300 epochs (the 10 cool-down epochs timm adds after
# them are left out, as in sup-cct-14-7x2_8xb128_in1k.py), label
# smoothing 0.1, Mixup 0.8 / CutMix 1.0 chosen evenly per batch and turned
# off from epoch 176 on (mixup_off_epoch 175, 0-based: the labels stay
# smoothed), no random erasing (reprob 0), AMP (add --amp on GPUs). The
# CCT constructor defaults apply: attention dropout 0.1, stochastic depth
# 0.1 (linear over the layers), no other dropout.
# Data: timm's training transform at 32 px as the yaml sets it:
# RandomResizedCrop 32 with scale (0.8, 1.0), horizontal flip, RandAugment
# rand-m9-mstd0.5-inc1 (filled with the mean), normalisation with the
# official CIFAR-10 mean / std; evaluation: resize 32 + centre crop 32
# (crop_pct 1.0, the identity on CIFAR). Not reproduced: timm's random
# choice of bilinear / bicubic per crop ('train_interpolation: random';
# bicubic here) and its RGB grey weights in the colour operations (mmcv's
# assume BGR; CIFAR images are RGB). The padded random crop + CIFAR
# AutoAugment of the repository's examples/main.py is its older
# minimal script, not the recipe of the released checkpoints.
# Data: mmpretrain's CIFAR10 (the python version, data/cifar10/
# cifar-10-batches-py, downloaded on first use).
# Source: official SHI-Labs/Compact-Transformers
# configs/pretrained/cct_7-3x1_cifar10_300epochs.yml, README (train.py
# command) and src/cct.py defaults.
_base_ = [
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
num_classes = 10
# official mean / std (configs/datasets/cifar10.yml) x 255, RGB
rgb_mean = [125.307, 122.961, 113.8575]
rgb_std = [62.985, 62.0925, 66.708]

data_preprocessor = dict(
    num_classes=num_classes,
    mean=rgb_mean,
    std=rgb_std,
    to_rgb=False,  # mmpretrain's CIFAR images are RGB
    batch_augments=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]),
)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CCT',
        arch='cct-7-3x1',
        attn_drop_rate=0.1,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=256,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.8, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',  # '-inc1'
        num_policies=2,
        total_level=10,
        magnitude_level=9,  # 'm9'
        magnitude_std=0.5,  # 'mstd0.5'
        hparams=dict(
            pad_val=[round(x) for x in rgb_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(
        type='ResizeEdge',
        scale=32,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Mixup / CutMix off from the 176th epoch (timm: epoch >= mixup_off_epoch)
mixup_off_epoch = 175
custom_hooks = [
    dict(
        type='SwitchRecipeHook',
        schedule=[dict(action_epoch=mixup_off_epoch + 1,
                       batch_augments=None)]),
]

# timm's optimizer factory: no decay on 1-D tensors only
lr = 5.5e-4
warmup_lr = 1e-5
optim_wrapper = dict(
    optimizer=dict(lr=lr, weight_decay=0.06),
    paramwise_cfg=dict(_delete_=True, flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=warmup_lr / lr,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=10,
        end=300,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=128, enable=True)
