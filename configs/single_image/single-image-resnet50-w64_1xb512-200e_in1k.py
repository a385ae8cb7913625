# Single-image distillation (Asano & Saeed 2023, "The Augmented Image
# Prior: Distilling 1000 Classes by Extrapolating from a Single Image",
# https://arxiv.org/abs/2112.00725): a ResNet-50 trained from random init
# ONLY on augmented patches of one image (the official ameyoko.jpg street
# scene) to match the frozen torchvision ResNet-18 teacher
# (_teachers/resnet18_in1k.py): KL(teacher || student) at T = 8 WITHOUT the
# T^2 factor, CutMix (alpha 1) applied to every batch, the same mixed batch
# for both models; validated on the real ImageNet val (official: 66.2%
# top-1 after 200 epochs).
# Source: official in1k/distill.py and distiller.py (AdamW lr 0.01,
# weight decay 5e-4, batch 512 per GPU, 200 epochs; the training
# augmentation on the patches). The lr schedule is the code's
# `--lr_schedule` path: lr x 0.5 once an epoch >= 100 and >= 150 ends (its
# help text says "drop lr by 5x"; the code multiplies by 0.5), i.e. from
# epochs 101 / 151; the README's command runs without it (constant lr).
# The number of GPUs is not stated (1 x 512 here).
# Make the patches first (official generator settings; the patch size for
# ImageNet is not stated, 256 here, cropped to 224 in training):
#   python tools/make_single_image_data.py ameyoko.jpg \
#       data/single_image/ameyoko --num 1281167 --size 256 --ext jpeg
_base_ = [
    '../_base_/distillers/logit_kd.py',
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
    '../_teachers/resnet18_in1k.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.logit_kd_inputs,
        losses=dict(
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=8.0,
                tau_squared=False))),
    data_preprocessor=dict(
        type='mmvitplug.MultiViewClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        batch_augments=dict(augments=[dict(type='CutMix', alpha=1.0)])),
)

train_dataloader = dict(
    batch_size=512,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/single_image/ameyoko',
        data_prefix='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='RandomResizedCrop', scale=224,
                crop_ratio_range=(0.08, 1.0), interpolation='bicubic'),
            dict(
                type='RandomApply',
                transforms=[
                    dict(
                        type='ColorJitter', brightness=0.4, contrast=0.4,
                        saturation=0.4, hue=0.4)
                ],
                prob=0.8),
            dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
            dict(type='Solarize', thr=128, prob=0.2),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='PackInputs'),
        ]))
# torchvision's Resize(256) (bilinear) + CenterCrop(224)
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
             interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=224),
        dict(type='PackInputs'),
    ]))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=0.01, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, begin=0, end=200,
        milestones=[101, 151], gamma=0.5)
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=True, base_batch_size=512)
