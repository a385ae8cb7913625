# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), joint mode, at
# digits scale: a 4-block DeiT of 192 dims with 6 heads on 8x8 patches
# trained from scratch together with its agent CNN (mmvitplug.AgentCNN, the
# same block layout with 3x3 convolutions (6 heads -> k = 3) and 1x1-conv
# MLPs, BatchNorms, its own weights), both from the same batches, with the
# official joint losses and weights (_base_/distillers/bootstrapping_vits.py:
# CE 1 on each, KD both ways 1, hint 10 over the 4 block pairs, decaying as
# 1 - epoch / epochs). The ViT is evaluated.
# Baseline: sup-deit-4l192d-p8_1xb16-15e_digits.py (the same ViT alone, same
# schedule); bootstrap-shared-...: the agent made of the ViT's weights.
# Digits recipe of the bundled DeiTs (AdamW lr 5e-4, batch 16, 15 epochs,
# no augmentation); the official CIFAR-100 recipe is in
# configs/bootstrapping_vits/.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/distillers/bootstrapping_vits.py',
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
    distiller=dict(
        recorders=dict(
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
        losses=dict(loss_hint=dict(channels=192)),
        loss_inputs=dict(
            loss_hint=dict(
                preds=[
                    dict(recorder=f'vit{i}', connector=['patches', 'tokens'])
                    for i in _pairs
                ],
                target=[
                    dict(recorder=f'cnn{i}', connector='tokens')
                    for i in _pairs
                ]))))

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
