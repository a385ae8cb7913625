# CCT-7/3x1 (learnable position embedding) trained from scratch on
# CIFAR-100 at 32x32 for 300 epochs (official 80.92 top-1,
# cct_7_3x1_32_cifar100_300epochs.pth). Recipe of the official
# configs/pretrained/cct_7-3x1_cifar100_300epochs.yml (1 GPU x 128, timm's
# train.py): as sup-cct-7-3x1_1xb128_cifar10.py with lr 6e-4 for the batch
# of 128, 10 warm-up epochs from 1e-6, Mixup / CutMix for all 300 epochs
# (mixup_off_epoch 0), random erasing 0.25 (per-pixel noise, timm's
# 'pixel' mode) and the official CIFAR-100 mean / std; weight decay 0.06,
# cosine to 1e-5, label smoothing 0.1, attention dropout 0.1, stochastic
# depth 0.1 as there. Data: mmpretrain's CIFAR100 (data/cifar100).
# Source: official SHI-Labs/Compact-Transformers
# configs/pretrained/cct_7-3x1_cifar100_300epochs.yml, README and
# src/cct.py defaults.
_base_ = ['./sup-cct-7-3x1_1xb128_cifar10.py']

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
num_classes = 100
# official mean / std (configs/datasets/cifar100.yml) x 255, RGB
rgb_mean = [129.3105, 124.1085, 112.404]
rgb_std = [68.2125, 65.4075, 70.4055]

data_preprocessor = dict(num_classes=num_classes, mean=rgb_mean, std=rgb_std)
model = dict(head=dict(num_classes=num_classes))

train_pipeline = [
    dict(t, hparams=dict(t['hparams'],
                         pad_val=[round(x) for x in rgb_mean]))
    if t['type'] == 'RandAugment' else t
    for t in _base_.train_pipeline[:-1]
] + [
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=rgb_mean,
        fill_std=rgb_std),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader

# Mixup / CutMix for the whole run (official mixup_off_epoch 0: never)
mixup_off_epoch = 0
custom_hooks = []

lr = 6e-4
warmup_lr = 1e-6
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(s, start_factor=warmup_lr / lr) if s['type'] == 'LinearLR' else s
    for s in _base_.param_scheduler
]
