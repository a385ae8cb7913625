# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), joint mode: a ViT
# (`students.vit`) and its agent CNN (`students.cnn`, mmvitplug.AgentCNN)
# trained together from the same batches, the ViT evaluated (official
# `master: vit`). Losses of the official code (vit_mutual/loss), joint
# weights: CE on each network 1.0; KD both ways, KL(other || self) at T 4 x
# T^2, the other's logits detached, 1.0; hint (the ViT learns from the CNN
# only: hint_cnn = 0), MSE between the LayerNormed patch tokens of ViT block
# i (class token dropped) and the LayerNormed map of CNN block i, summed
# over the block pairs, x 10, times 1 - epoch / epochs (official
# DecayStrategy, per epoch).
#
# A config inherits it with the two students and completes the hint: its
# `channels` (the blocks' width) and, for each block pair i, the recorders
# `vit{i}` / `cnn{i}` of the blocks and their entries in
# `loss_inputs.loss_hint`:
#     preds=[dict(recorder=f'vit{i}', connector=['patches', 'tokens'])...],
#     target=[dict(recorder=f'cnn{i}', connector='tokens')...]
# The shared mode (the agent made of the ViT's weights) also sets the
# students' sharing and halves every weight (official shared configs).
model = dict(
    type='mmvitplug.MutualClassifier',
    predict_with='vit',
    distiller=dict(
        recorders=dict(
            vit_logits=dict(source='students.vit.head.fc'),
            cnn_logits=dict(source='students.cnn.head.fc')),
        connectors=dict(
            # the class token dropped, the patch tokens as a map
            patches=dict(
                type='mmvitplug.TokensToMapConnector', num_extra_tokens=1),
            # a map as (N, HW, C) tokens, for the LayerNorms over channels
            tokens=dict(type='mmvitplug.MapToTokensConnector')),
        losses=dict(
            loss_cls_vit=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_cls_cnn=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_kd_vit=dict(
                type='mmvitplug.KLDivergenceLoss', tau=4.0,
                tau_squared=True, loss_weight=1.0),
            loss_kd_cnn=dict(
                type='mmvitplug.KLDivergenceLoss', tau=4.0,
                tau_squared=True, loss_weight=1.0),
            loss_hint=dict(
                type='mmvitplug.HintLoss', norm=True, loss_weight=10.0)),
        loss_inputs=dict(
            loss_cls_vit=dict(cls_score='vit_logits', label='targets'),
            loss_cls_cnn=dict(cls_score='cnn_logits', label='targets'),
            loss_kd_vit=dict(preds='vit_logits', target='cnn_logits'),
            loss_kd_cnn=dict(preds='cnn_logits', target='vit_logits'))))
custom_hooks = [
    # official DecayStrategy: hint weight x (1 - epoch / epochs)
    dict(
        type='mmvitplug.LossWeightScheduleHook', loss='loss_hint',
        start_factor=1.0, end_factor=0.0, by_epoch=True)
]
