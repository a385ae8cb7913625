# Arch-Net (Xu et al. 2021, "Arch-Net: Model Distillation for Architecture
# Agnostic Model Deployment", https://arxiv.org/abs/2111.01135): a
# ResNet-18 of 2-bit 3x3 convolutions, 4-bit activations and an 8-bit
# classifier (mmvitplug.ArchNetResNet + QuantLinearClsHead: no addition,
# 2x2 max pooling, concatenations) distilled without labels from the
# full-precision torchvision ResNet-18 (_teachers/resnet18_in1k.py, 69.76%
# top-1), one output more per period. Official: 68.77% top-1 (2w4a).
# Source: megvii-research/Arch-Net (f43bab2) train_imagenet/
# train_archnet_resnet18.py and README:
# - 26 periods (one per output: stem, 3 per block, logits) of 60, 10 (x24)
#   and 5110 "epochs" of 8192 images = 32 iterations of 8 x 32 images:
#   5410 x 32 = 173120 iterations; period p trains outputs 0..p with
#   weights 0.8 ** (p - i) (mmvitplug.ArchNetLoss, ArchNetPeriodHook);
# - Adam lr 1e-3, weight decay 1e-7, a new optimizer each period (the hook
#   clears its state) and a new CosineAnnealingWarmRestarts(T_0=10 epochs,
#   T_mult=2) each period: mmvitplug.PeriodicCosineRestartLR below
#   (stepped per iteration; officially per 32-iteration epoch);
# - data: _base_/datasets/imagenet_archnet.py (a 30000-image subset,
#   Resize 256, CenterCrop 224, horizontal flip) and Mixup within the batch
#   (lambda ~ U(0, 1)) on 10% of the batches, seen by teacher and student
#   alike; labels unused;
# - the student initialised from the teacher (block convolutions and BNs;
#   1x1 downsampling at the centre of the 3x3): ArchNetClassifier.
# The official code evaluates 19 last-period checkpoints on the val set;
# here the last one is the result.
_base_ = [
    '../_base_/datasets/imagenet_archnet.py',
    '../_base_/default_runtime.py',
    '../_teachers/resnet18_in1k.py',
]

model = dict(
    type='mmvitplug.ArchNetClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetResNet', arch='resnet18', w_bits=2,
        a_bits=4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmvitplug.QuantLinearClsHead', num_classes=1000,
        in_channels=512, w_bits=8, logit_clip=16.),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    # 26 outputs of each (stem, 3 per basic block, logits), adapters, the
    # period loss
    distiller=dict(
        type='mmvitplug.ArchNetResNetDistiller',
        depths=[2, 2, 2, 2],
        widths=[64, 128, 256, 512]))

data_preprocessor = dict(
    # Mixup within the batch (lambda ~ Beta(1, 1) = U(0, 1)) on 10% of the
    # batches, before teacher and student
    batch_augments=dict(augments=[dict(type='Mixup', alpha=1.0)], probs=0.1))

# an official "epoch": 8192 images = 32 iterations of 8 x 32
epoch_iters = 32
archnet_periods = [epoch_iters * e for e in [60] + [10] * 24 + [5110]]

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-7))
# a cosine with warm restarts (10, 20, 40, ... epochs) from lr 1e-3 in every
# period, cut at the period's end
param_scheduler = dict(
    type='mmvitplug.PeriodicCosineRestartLR',
    by_epoch=False,
    periods=archnet_periods,
    first_cycle=10 * epoch_iters,
    eta_min=0.)
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=sum(archnet_periods),
    val_interval=5000 * epoch_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(
        by_epoch=False, interval=1000 * epoch_iters, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
# the official command: 8 GPUs x 32 = 256 images per step
auto_scale_lr = dict(base_batch_size=256, enable=True)
# every period leaves the later outputs' adapters unused
find_unused_parameters = True
