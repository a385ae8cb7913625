# Arch-Net at digits scale: the half-width ResNet-18 teacher
# (_teachers/resnet18-w32_digits.py, trained by
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py) distilled without labels
# into the Arch-Net student of the same widths (32, 64, 128, 256): 2-bit 3x3
# convolutions, 4-bit activations, 8-bit classifier, concatenations instead
# of additions; its last stage merges in two groups (max_conv_in=256, so
# that the split blocks of the official ResNet-18 are exercised).
# The official recipe (archnet/archnet-resnet18_8xb32-5410e_in1k.py)
# scaled to 575 iterations of 64 digits (25 epochs of the 1438 training
# digits): 26 periods of 25, 10 (x24) and 310 iterations (an official
# "epoch" is one iteration here; the last period is 5 whole cosine cycles
# 10 + 20 + 40 + 80 + 160), Adam lr 1e-3, weight decay 1e-7, a restart and
# a fresh optimizer state per period, Mixup within the batch on 10% of the
# batches, the student initialised from the teacher. Labels are never read (the
# digits base's shifts of up to 2 pixels are the only other augmentation).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/resnet18-w32_digits.py',
]

widths = [32, 64, 128, 256]
model = dict(
    type='mmvitplug.ArchNetClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetResNet',
        arch=dict(depths=[2, 2, 2, 2], widths=widths),
        w_bits=2,
        a_bits=4,
        max_conv_in=256),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmvitplug.QuantLinearClsHead', num_classes=10,
        in_channels=256, w_bits=8, logit_clip=16.),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        type='mmvitplug.ArchNetResNetDistiller',
        depths=[2, 2, 2, 2],
        widths=widths),
    # Mixup within the batch (lambda ~ U(0, 1)) on 10% of the batches
    data_preprocessor=dict(
        _base_.data_preprocessor,
        batch_augments=dict(
            augments=[dict(type='Mixup', alpha=1.0)], probs=0.1)))

archnet_periods = [25] + [10] * 24 + [310]  # iterations
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-7))
param_scheduler = dict(
    type='mmvitplug.PeriodicCosineRestartLR',
    by_epoch=False,
    periods=archnet_periods,
    first_cycle=10,
    eta_min=0.)
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=sum(archnet_periods),
    val_interval=sum(archnet_periods))
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(
        by_epoch=False,
        interval=sum(archnet_periods),
        max_keep_ckpts=1,
        save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
