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
# recorded features: the stem's tokens (the first block's input), then per
# block the residual stream after its attention (its norm2's input) and
# after its MLP (its output); attention logits; the logits
_features = [('blocks.0', 'ModuleInputs')] + [
    (f'blocks.{i}{where}', kind) for i in range(num_layers)
    for where, kind in (('.norm2', 'ModuleInputs'), ('', 'ModuleOutputs'))
]
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
    distiller=dict(
        recorders=dict(
            **{f's{k}': dict(type=kind, source='backbone.' + path, index=0
                             if kind == 'ModuleInputs' else None)
               for k, (path, kind) in enumerate(_features)},
            **{f't{k}': dict(type=kind, source='teacher.backbone.' + path,
                             index=0 if kind == 'ModuleInputs' else None)
               for k, (path, kind) in enumerate(_features)},
            **{f's_attn{i}': dict(source=f'backbone.blocks.{i}.attn.logits')
               for i in range(num_layers)},
            **{f't_attn{i}': dict(
                type='AttentionRelations',
                source=f'teacher.backbone.blocks.{i}.attn', index='qk')
               for i in range(num_layers)},
            s_logits=dict(source='head'),
            t_logits=dict(source='teacher')),
        connectors={
            f'a{k}': dict(
                type='mmvitplug.ArchNetTokenAdapterConnector', channels=dims)
            for k in range(1, 2 * num_layers + 1)
        },
        losses=dict(
            loss_archnet=dict(
                type='mmvitplug.ArchNetViTLoss', num_layers=num_layers)),
        loss_inputs=dict(
            loss_archnet=dict(
                student=['s0'] + [
                    dict(recorder=f's{k}', connector=f'a{k}')
                    for k in range(1, 2 * num_layers + 1)
                ],
                teacher=[f't{k}' for k in range(2 * num_layers + 1)],
                student_attn=[f's_attn{i}' for i in range(num_layers)],
                teacher_attn=[f't_attn{i}' for i in range(num_layers)],
                student_logits='s_logits',
                teacher_logits='t_logits'))),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(batch_size=32)
archnet_periods = [45] * (num_layers + 1) + [675]  # iterations
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=1e-6, betas=(0.9, 0.98),
        eps=1e-9))
param_scheduler = [
    dict(
        type='CosineRestartLR',
        by_epoch=False,
        begin=sum(archnet_periods[:-1]),
        end=sum(archnet_periods),
        periods=[135, 270, 540],
        restart_weights=[1.] * 3,
        eta_min=1e-4)
]
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
