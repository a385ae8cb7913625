# DynamicViT-DeiT-S/0.7 (Rao et al., NeurIPS 2021,
# https://arxiv.org/abs/2106.02034; official README: 79.32 top-1, 2.9
# GFLOPs): the official DeiT-S (teacher, and the student's initialisation:
# backbone and head) fine-tuned into mmvitplug.DynamicViT with keep
# predictors before blocks 3, 6 and 9, rho = 0.7 (137, 96 and 67 of the 196
# patch tokens kept at inference).
# Loss (official losses.py DistillDiffPruningLoss_dynamic, mse_token=True):
# 1.0 x soft-target CE (Mixup 0.8 / CutMix 1.0, label smoothing 0.1)
# + 2.0 x ratio loss + 0.5 x KL(teacher logits || student logits)
# + 0.5 x MSE of the final normalised patch tokens the student kept.
# Optimizer (official optim_factory.py): AdamW lr 1e-3 at batch 1024,
# weight decay 0.05 (none on 1-D parameters), predictors at the full lr,
# everything else at lr x 0.01 (lr_scale, a two-depth layer decay), class
# token and position embedding frozen, the ViT and head also frozen for the
# 5 warm-up epochs (fix_step); cosine to 1e-6 x the group's scale over 30
# epochs; EMA of the weights (0.9999) as model_ema. No repeated
# augmentation (DistributedSampler), no stochastic depth (DeiT-S).
# Source: official README (DeiT-S training command) and main.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]

keep_ratio = 0.7
pretrained = \
    'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
deit = dict(type='mmvitplug.DeiT', arch='deit-small')
head = dict(type='LinearClsHead', num_classes=1000, in_channels=384)
model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DynamicViT',
        backbone=dict(
            deit,
            init_cfg=dict(
                type='Pretrained', checkpoint=pretrained,
                prefix='backbone.')),
        pruning_loc=(3, 6, 9),
        keep_ratio=keep_ratio),
    neck=None,
    # mmvitplug.Pretrained converts the official layout for the head too
    head=dict(
        head,
        init_cfg=dict(
            type='mmvitplug.Pretrained', checkpoint=pretrained,
            prefix='head.', converter='DeiT')),
    teacher=dict(type='ImageClassifier', backbone=deit, head=head),
    teacher_ckpt=pretrained,
    distiller=dict(
        recorders=dict(
            logits=dict(source='head.fc'),
            teacher_logits=dict(source='teacher.head.fc'),
            tokens=dict(source='backbone.vit.norm'),
            teacher_tokens=dict(source='teacher.backbone.norm'),
            keep0=dict(source='backbone.keep_decisions.0'),
            keep1=dict(source='backbone.keep_decisions.1'),
            keep2=dict(source='backbone.keep_decisions.2')),
        losses=dict(
            loss_cls=dict(
                type='LabelSmoothLoss', label_smooth_val=0.1,
                mode='original', loss_weight=1.0),
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
                preds='tokens', target='teacher_tokens', mask='keep2'))))

train_dataloader = dict(
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

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
warmup_epochs, max_epochs = 5, 30
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6 / 1e-3, by_epoch=True, begin=0,
        end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min_ratio=1e-3, by_epoch=True,
        begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
custom_hooks = [
    dict(
        type='mmvitplug.DINOFreezeLastLayerHook', epochs=warmup_epochs,
        module='backbone.vit'),
    dict(
        type='mmvitplug.DINOFreezeLastLayerHook', epochs=warmup_epochs,
        module='head'),
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
