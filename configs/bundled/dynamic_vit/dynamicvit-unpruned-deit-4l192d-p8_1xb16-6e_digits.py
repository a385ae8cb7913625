# Baseline of dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py: the same
# network WITHOUT token pruning (the plain digits DeiT, no predictors),
# initialised from the same teacher and fine-tuned on the same schedule,
# data and distillation: 1.0 CE + 0.5 KL(teacher logits) + 0.5 MSE of the
# final normalised tokens (all of them: nothing is dropped; HintLoss over
# the class and patch tokens), the ViT and head at the pruned run's lr
# (1e-3 x 0.01), frozen in the warm-up epoch, class token and position
# embedding frozen, the same cosine. The unpruned model of the claim
# "pruned top-1 within 1 point of the unpruned fine-tuned model".
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        init_cfg=dict(
            type='Pretrained', checkpoint={{_base_.teacher_ckpt}},
            prefix='backbone.')),
    distiller=dict(
        _delete_=True,
        recorders=dict(
            logits=dict(source='head.fc'),
            teacher_logits=dict(source='teacher.head.fc'),
            tokens=dict(source='backbone.norm'),
            teacher_tokens=dict(source='teacher.backbone.norm')),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=1.0, loss_weight=0.5),
            loss_token=dict(type='mmvitplug.HintLoss', loss_weight=0.5)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_kd=dict(preds='logits', target='teacher_logits'),
            loss_token=dict(preds='tokens', target='teacher_tokens'))))

optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(
        type='AdamW', lr=1e-5, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(lr_mult=0.0, decay_mult=0.0),
            '.pos_embed': dict(lr_mult=0.0, decay_mult=0.0),
        }))
custom_hooks = [
    dict(
        type='mmvitplug.DINOFreezeLastLayerHook', epochs=1,
        module='backbone'),
    dict(type='mmvitplug.DINOFreezeLastLayerHook', epochs=1, module='head'),
]
