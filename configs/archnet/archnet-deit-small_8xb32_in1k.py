# Arch-Net's Transformer variant (Xu et al. 2021, "Arch-Net: Model
# Distillation for Architecture Agnostic Model Deployment",
# https://arxiv.org/abs/2111.01135) for a ViT: DeiT-S of 2-bit LSQ weights
# and 4-bit LSQ activations, BatchNorm for LayerNorm, a quantised ReLU for
# GELU and an 8-bit LSQ classifier (mmvitplug.ArchNetViT +
# LSQLinearClsHead) distilled without labels from the full-precision
# official DeiT-S (79.9% top-1), one block more per period.
# Source: NOT a published recipe (the official Transformer student is a
# translation model, trained on Multi30k); it combines megvii-research/
# Arch-Net (f43bab2):
# - train_transformer/train_archnet_transformer.py: the student's operators
#   (models/students/transformer.py), its loss (MSE of every distilled
#   output through linear adapters, 1 - cos of the attention maps, weights
#   0.8 ** (n - 1 - i); the last period adds the label-smoothed
#   cross-entropy with the teacher's argmax: mmvitplug.ArchNetViTLoss), a
#   period for the stem and one per block, AdamW lr 1e-3, weight decay
#   1e-6, betas (0.9, 0.98), eps 1e-9, a new optimizer each period, a
#   constant rate until the last period, then CosineAnnealingWarmRestarts
#   (T_0=10 epochs, T_mult=2, eta_min=1e-4);
# - train_imagenet/train_archnet_resnet18.py (this folder's
#   archnet-resnet18_8xb32_in1k.py): the ImageNet protocol
#   (_base_/datasets/imagenet_archnet.py: a 30000-image subset, Resize 256
#   / CenterCrop 224 / flip, 8 x 32 images a step) and its period lengths
#   in "epochs" of 32 iterations (60 for the stem, 10 per block, 5110 for
#   the last), without its Mixup (the Transformer recipe has none).
# The student is initialised from the teacher (tensors of the same names,
# LayerNorm affine parameters into the BatchNorms: ArchNetClassifier).
# The teacher checkpoint is the official DeiT-S converted once:
#   python tools/model_converters/convert.py DeiT \
#     deit_small_patch16_224-cd65a155.pth checkpoints/deit-small_teacher.pth
_base_ = [
    '../_base_/datasets/imagenet_archnet.py',
    '../_base_/default_runtime.py',
]

num_layers, dims = 12, 384
teacher = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.DeiT', arch='deit-small'),
    neck=None,
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=dims))
teacher_ckpt = 'checkpoints/deit-small_teacher.pth'
model = dict(
    type='mmvitplug.ArchNetClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetViT', arch='deit-small', w_bits=2, a_bits=4),
    neck=None,
    head=dict(
        type='mmvitplug.LSQLinearClsHead', num_classes=1000,
        in_channels=dims, w_bits=8),
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    # per block: its two residual streams (through adapters) and its
    # attention logits; the stem's tokens; the logits
    distiller=dict(
        type='mmvitplug.ArchNetViTDistiller',
        num_layers=num_layers,
        embed_dims=dims))
epoch_iters = 32
archnet_periods = [
    epoch_iters * e for e in [60] + [10] * num_layers + [5110]
]
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=1e-6, betas=(0.9, 0.98),
        eps=1e-9))
# constant until the last period, then cosine restarts of 10, 20, 40, ...
# epochs down to 1e-4
param_scheduler = dict(
    type='mmvitplug.PeriodicCosineRestartLR',
    by_epoch=False,
    begin=sum(archnet_periods[:-1]),
    periods=archnet_periods[-1:],
    first_cycle=10 * epoch_iters,
    eta_min=1e-4)
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
# every period leaves the later blocks' adapters unused
find_unused_parameters = True
