# DHVT-T (patch 4, 4 heads) trained from scratch on CIFAR-100 at 32x32
# (https://arxiv.org/abs/2210.05958; the abstract's best CIFAR-100 result
# is 85.68% for a 22.8M-parameter DHVT, the per-model table not checked
# here). Recipe of the official run_code_cifar.sh
# (2 GPUs x 256 images, lr 1e-3 scaled by total batch / 512 as its
# main.py does, 5 warm-up epochs, 300 epochs) and main.py's DeiT
# defaults: AdamW, weight decay 0.05 (none on 1-D tensors and the class
# token, as timm's optimizer factory with the model's no_weight_decay()),
# warm-up from 1e-6, cosine to 1e-5, stochastic depth 0.1, label smoothing
# 0.1, Mixup 0.8 / CutMix 1.0, repeated augmentation (3 repeats).
# Data: timm 0.4.12's create_transform at 32 px as the official
# datasets.py calls it: RandomCrop 32 with 4-pixel padding (replacing the
# random resized crop), horizontal flip, RandAugment rand-m9-mstd0.5-inc1,
# random erasing 0.25 (per-pixel noise), ImageNet mean / std (the
# official code normalises CIFAR with them); evaluation at 32 with no
# resize (ResizeEdge 32 + CentreCrop 32 below are the identity on CIFAR).
# Not reproduced: the official ModelEma (decay 0.99996), never evaluated.
# Data: mmpretrain's CIFAR100 (the python version, data/cifar100/
# cifar-100-python, downloaded on first use). The patch-2 models:
# arch 'dhvt-t-cifar-p2' / 'dhvt-s-cifar-p2'.
# Source: official ArieSeirack/DHVT run_code_cifar.sh, main.py,
# datasets.py and vision_transformer.py (dhvt_tiny_cifar_patch4).
_base_ = [
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
num_classes = 100
rgb_mean = [123.675, 116.28, 103.53]
rgb_std = [58.395, 57.12, 57.375]

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
        type='mmvitplug.DHVT',
        arch='dhvt-t-cifar-p4',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=192,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
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
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='RepeatAugSampler', num_repeats=3, shuffle=True),
)
val_dataloader = dict(
    batch_size=256,
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

# 2 GPUs x 256 images: lr 1e-3 x 512 / 512 by auto_scale_lr
lr = 1e-3
warmup_epochs = 5
epochs = 300
optim_wrapper = dict(
    optimizer=dict(lr=lr),
    paramwise_cfg=dict(
        _delete_=True,
        flat_decay_mult=0.0,
        custom_keys={'.cls_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
