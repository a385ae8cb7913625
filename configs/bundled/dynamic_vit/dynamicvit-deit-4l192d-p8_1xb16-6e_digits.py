# DynamicViT (Rao et al., NeurIPS 2021, https://arxiv.org/abs/2106.02034)
# at digits scale: the bundled digits DeiT teacher
# (_teachers/deit-4l192d-p8_digits.py: 4 blocks, 192 dims, 3 heads, patch 8
# on 32 px, a 4 x 4 grid of 16 patch tokens) fine-tuned into
# mmvitplug.DynamicViT with keep predictors before blocks 1, 2 and 3 (the
# official 3, 6, 9 of 12 blocks scaled to 4: pruning_loc fractions 0.25,
# 0.5, 0.75), rho = 0.7: 11, 7 and 5 of the 16 patch tokens are kept at
# inference (int(16 x 0.7^l)). Student initialised from the teacher
# (backbone and head); the teacher is the same frozen network.
# Loss (official DistillDiffPruningLoss_dynamic with mse_token, DeiT):
# 1.0 CE(labels) + 2.0 x ratio loss (mean over the 3 locations of the
# per-sample squared gap between the kept fraction and rho^l)
# + 0.5 KL(teacher logits || student logits)
# + 0.5 MSE(final normalised patch tokens, the student's kept tokens only).
# Optimizer (official optim_factory): AdamW lr 1e-3, weight decay 0.05
# (none on 1-D parameters), the predictors at the full lr and everything
# else (ViT, head) at lr x 0.01 (lr_scale, a two-depth layer decay), the
# class token and position embedding frozen; the ViT and head also frozen
# during the warm-up (the official fix_step); cosine to lr x 1e-3.
# Schedule: the official 30 epochs / 5 warm-up scaled to 6 / 1 (batch 16,
# 90 iterations an epoch). No augmentation (as the teacher's training).
# Baseline on the same schedule:
# dynamicvit-unpruned-deit-4l192d-p8_1xb16-6e_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/deit-4l192d-p8_digits.py',
]

keep_ratio = 0.7
model = dict(
    _delete_=True,
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DynamicViT',
        backbone=dict(
            _base_.deit_backbone,
            init_cfg=dict(
                type='Pretrained', checkpoint=_base_.teacher_ckpt,
                prefix='backbone.')),
        pruning_loc=(0.25, 0.5, 0.75),
        keep_ratio=keep_ratio),
    neck=None,
    head=dict(
        _base_.deit_head,
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.teacher_ckpt,
            prefix='head.')),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        recorders=dict(
            logits=dict(source='head.fc'),
            teacher_logits=dict(source='teacher.head.fc'),
            # final-norm outputs (B, 1 + 16, 192); the student's with every
            # token present (masked, not removed, in training)
            tokens=dict(source='backbone.vit.norm'),
            teacher_tokens=dict(source='teacher.backbone.norm'),
            # the hard keep decisions (B, 16) of the 3 locations
            keep0=dict(source='backbone.keep_decisions.0'),
            keep1=dict(source='backbone.keep_decisions.1'),
            keep2=dict(source='backbone.keep_decisions.2')),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_ratio=dict(
                type='mmvitplug.DynamicViTRatioLoss', keep_ratio=keep_ratio,
                num_locations=3, loss_weight=2.0),
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=1.0, loss_weight=0.5),
            loss_token=dict(
                type='mmvitplug.KeptTokenMSELoss', loss_weight=0.5)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_ratio=dict(decisions=['keep0', 'keep1', 'keep2']),
            loss_kd=dict(preds='logits', target='teacher_logits'),
            loss_token=dict(
                preds='tokens', target='teacher_tokens', mask='keep2'))),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.01,
        flat_decay_mult=0.0,
        norm_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(lr_mult=0.0, decay_mult=0.0),
            '.pos_embed': dict(lr_mult=0.0, decay_mult=0.0),
        }))
warmup_epochs, max_epochs = 1, 6
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
        end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min_ratio=1e-3, by_epoch=True,
        begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
# the official fix_step: the ViT and the head do not move in the warm-up
custom_hooks = [
    dict(
        type='mmvitplug.DINOFreezeLastLayerHook', epochs=warmup_epochs,
        module='backbone.vit'),
    dict(
        type='mmvitplug.DINOFreezeLastLayerHook', epochs=warmup_epochs,
        module='head'),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=30),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
