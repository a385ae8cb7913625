# Arch-Net's Transformer recipe at digits scale, for a ViT: the bundled
# digits DeiT (_teachers/deit-4l192d-p8_digits.py: 4 blocks, 192 dims,
# 3 heads) distilled without labels into mmvitplug.ArchNetViT of the same
# shape (2-bit LSQ weights, 4-bit LSQ activations, BatchNorm for LayerNorm,
# a quantised ReLU for GELU, 8-bit LSQ classifier), initialised from the
# teacher (every tensor of the same name, the classifier included).
# The official train_archnet_transformer.py (14 periods of 6 epochs and one
# of 50 on Multi30k) carried over to 4 blocks and scaled to 900 iterations
# of 32 digits (20 epochs of the 1438 training digits): 6 periods of 45
# iterations (the stem, then one block per period: its two residual streams
# by MSE through linear adapters, its attention map by 1 - cos) and a last
# of 675 (every term + the label-smoothed cross-entropy with the teacher's
# argmax). AdamW lr 1e-3, weight decay 1e-6, betas (0.9, 0.98), eps 1e-9, a
# fresh optimizer state per period, a constant rate until the last period,
# then cosine restarts of 135 and 270 iterations down to 1e-4 (the
# official CosineAnnealingWarmRestarts(10, 2, eta_min=1e-4) over 50
# epochs, 13.5 iterations per official epoch). Labels are never read.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/deit-4l192d-p8_digits.py',
]

num_layers, dims = 4, 192
model = dict(
    _delete_=True,
    type='mmvitplug.ArchNetClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetViT',
        arch=dict(
            embed_dims=dims, num_layers=num_layers, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        w_bits=2,
        a_bits=4),
    neck=None,
    head=dict(
        type='mmvitplug.LSQLinearClsHead', num_classes=10, in_channels=dims,
        w_bits=8),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    # per block: its two residual streams (through adapters) and its
    # attention logits; the stem's tokens; the logits
    distiller=dict(
        type='mmvitplug.ArchNetViTDistiller',
        num_layers=num_layers,
        embed_dims=dims),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(batch_size=32)
archnet_periods = [45] * (num_layers + 1) + [675]  # iterations
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=1e-6, betas=(0.9, 0.98),
        eps=1e-9))
param_scheduler = dict(
    type='mmvitplug.PeriodicCosineRestartLR',
    by_epoch=False,
    begin=sum(archnet_periods[:-1]),
    periods=archnet_periods[-1:],
    first_cycle=135,
    eta_min=1e-4)
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
    logger=dict(interval=45),
    checkpoint=dict(
        by_epoch=False,
        interval=sum(archnet_periods),
        max_keep_ckpts=1,
        save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
