# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), joint mode, at
# digits scale: a 4-block DeiT of 192 dims with 6 heads on 8x8 patches
# trained from scratch together with its agent CNN (mmvitplug.AgentCNN, the
# same block layout with 3x3 convolutions (6 heads -> k = 3) and 1x1-conv
# MLPs, BatchNorms, its own weights), both from the same batches: CE on
# each, KD both ways (KL at T 4 x T^2, the other's logits detached) and the
# hint of the official code, MSE between the LayerNormed ViT patch tokens
# and the LayerNormed CNN maps of each block pair, summed over the 4 pairs
# (the ViT learns from the CNN only: hint_cnn = 0), its weight decaying as
# 1 - epoch / epochs (LossWeightScheduleHook). Official joint weights: CE 1,
# KD 1, hint 10. The ViT is evaluated (official `master: vit`).
# Baseline: sup-deit-4l192d-p8_1xb16-15e_digits.py (the same ViT alone, same
# schedule); bootstrap-shared-...: the agent made of the ViT's weights.
# Digits recipe of the bundled DeiTs (AdamW lr 5e-4, batch 16, 15 epochs,
# no augmentation); the official CIFAR-100 recipe is in
# configs/bootstrapping_vits/.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

arch = dict(
    embed_dims=192, num_layers=4, num_heads=6, feedforward_channels=768)
_head = dict(
    type='LinearClsHead',
    num_classes=10,
    in_channels=192,
    init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.))
_pairs = list(range(arch['num_layers']))
model = dict(
    type='mmvitplug.MutualClassifier',
    students=dict(
        vit=dict(
            backbone=dict(
                type='mmvitplug.DeiT', arch=arch, img_size=32,
                patch_size=8),
            head=_head),
        cnn=dict(
            backbone=dict(
                type='mmvitplug.AgentCNN', arch=arch, patch_size=8,
                conv_type='full'),
            head=_head)),
    predict_with='vit',
    distiller=dict(
        recorders=dict(
            vit_logits=dict(source='students.vit.head.fc'),
            cnn_logits=dict(source='students.cnn.head.fc'),
            # block outputs: ViT tokens (N, 1 + 16, 192), CNN maps
            # (N, 192, 4, 4)
            **{
                f'vit{i}': dict(source=f'students.vit.backbone.blocks.{i}')
                for i in _pairs
            },
            **{
                f'cnn{i}': dict(source=f'students.cnn.backbone.blocks.{i}')
                for i in _pairs
            }),
        connectors=dict(
            # the class token dropped, the patch tokens as a 4x4 map
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
                type='mmvitplug.HintLoss', channels=192, norm=True,
                loss_weight=10.0)),
        loss_inputs=dict(
            loss_cls_vit=dict(cls_score='vit_logits', label='targets'),
            loss_cls_cnn=dict(cls_score='cnn_logits', label='targets'),
            loss_kd_vit=dict(preds='vit_logits', target='cnn_logits'),
            loss_kd_cnn=dict(preds='cnn_logits', target='vit_logits'),
            loss_hint=dict(
                preds=[
                    dict(recorder=f'vit{i}', connector=['patches', 'tokens'])
                    for i in _pairs
                ],
                target=[
                    dict(recorder=f'cnn{i}', connector='tokens')
                    for i in _pairs
                ]))))
custom_hooks = [
    # official DecayStrategy: hint weight x (1 - epoch / epochs)
    dict(
        type='mmvitplug.LossWeightScheduleHook', loss='loss_hint',
        start_factor=1.0, end_factor=0.0, by_epoch=True)
]

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
