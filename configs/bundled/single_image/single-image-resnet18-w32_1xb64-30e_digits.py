# Single-image distillation (Asano & Saeed 2023, "The Augmented Image
# Prior", https://arxiv.org/abs/2112.00725) at digits scale: a ResNet-18
# at half width (the teacher's architecture, the paper's "R50 from R50"
# setting) trained from random init ONLY on augmented patches of ONE
# bundled image (shapes-ade training image 000001: 4 coloured shapes on a
# flat background), with the frozen digits ResNet teacher
# (_teachers/resnet18-w32_digits.py) as its only signal: KL at temperature
# 8 without the T^2 factor (official), CutMix (alpha 1) on every batch,
# both models on the same mixed batch. Validated on the real digits.
# The official training augmentation on the patches (random-resized crop
# 0.08-1, colour jitter 0.4 with p 0.8, grey p 0.2, solarize p 0.2, flip)
# and optimizer (AdamW lr 0.01, wd 5e-4, lr halved at 50% and 75% of
# training); 5000 patches of 32 px, 30 epochs.
# Source: bundled-data smoke config, not a paper recipe.
# Make the patches and train the teacher first:
#   python tools/make_single_image_data.py \
#       data/bundled/shapes-ade/images/training/000001.jpg \
#       data/single_image/shapes-ade-000001 --num 5000 --size 32
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
_base_ = [
    '../../_base_/distillers/logit_kd.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/resnet18-w32_digits.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=_base_.teacher.backbone,
    neck=_base_.teacher.neck,
    head=_base_.teacher.head,
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.logit_kd_inputs,
        losses=dict(
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=8.0,
                tau_squared=False))),
)
data_preprocessor = dict(
    type='mmvitplug.MultiViewClsDataPreprocessor',
    batch_augments=dict(augments=[dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/single_image/shapes-ade-000001',
        data_prefix='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='RandomResizedCrop', scale=32,
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

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=0.01, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, begin=0, end=30,
        milestones=[15, 23], gamma=0.5)
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
