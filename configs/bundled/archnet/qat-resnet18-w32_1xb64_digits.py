# A reference for Arch-Net at digits scale that uses the labels: the same
# 2w4a Arch-Net student (archnet-resnet18-w32_1xb64_digits.py) trained
# from its own initialisation with cross-entropy (quantisation-aware
# training, straight-through gradients), with the same data, batch, 575
# iterations, Adam lr 1e-3 and weight decay 1e-7, one cosine to 0, no
# teacher.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetResNet',
        arch=dict(depths=[2, 2, 2, 2], widths=[32, 64, 128, 256]),
        w_bits=2,
        a_bits=4,
        max_conv_in=256),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmvitplug.QuantLinearClsHead', num_classes=10,
        in_channels=256, w_bits=8, logit_clip=16.,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

iters = 575
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-7))
param_scheduler = [
    dict(
        type='CosineAnnealingLR', by_epoch=False, begin=0, end=iters,
        eta_min=0.)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(
        by_epoch=False, interval=iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
