# A reference for Arch-Net's ViT at digits scale that uses the labels: the
# same 2w4a student (mmvitplug.ArchNetViT, archnet-deit-4l192d-p8_1xb32_
# digits.py) initialised from the same teacher checkpoint (the DeiT's
# tensors of the same names, LayerNorm affine parameters into the
# BatchNorms, the classifier into the LSQ head, as Arch-Net's) and trained
# with cross-entropy on the labels (quantisation-aware training, learned
# LSQ steps): the same data, batch, 900 iterations, AdamW (lr 1e-3, weight
# decay 1e-6, betas (0.9, 0.98)), one cosine to 1e-4, no teacher.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/deit-4l192d-p8_digits.py',
]

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ArchNetViT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        w_bits=2,
        a_bits=4,
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.teacher_ckpt,
            prefix='backbone.')),
    neck=None,
    head=dict(
        type='mmvitplug.LSQLinearClsHead', num_classes=10, in_channels=192,
        w_bits=8, loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.teacher_ckpt,
            prefix='head.')))

train_dataloader = dict(batch_size=32)
iters = 900
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=1e-6, betas=(0.9, 0.98),
        eps=1e-9))
param_scheduler = [
    dict(
        type='CosineAnnealingLR', by_epoch=False, begin=0, end=iters,
        eta_min=1e-4)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=45),
    checkpoint=dict(
        by_epoch=False, interval=iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
