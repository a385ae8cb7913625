# SPViT search for DeiT-Ti (He et al. 2021, https://arxiv.org/abs/2111.11802;
# official zhuang-group/SPViT, SPViT_DeiT/config/
# spvit_deit_ti_l200_t10_search.json, main_pruning.py, params.py): the
# official DeiT-Ti (backbone and head) wrapped in mmvitplug.SPViTSupernet
# (each attention MSA / 3 x 3 conv / 1 x 1 conv / skip with the convolutions
# derived from the attention weights, a gate per FFN hidden unit, gates at
# theta = 1.5).
# Loss: label-smoothed CE (0.1; Mixup 0.8 / CutMix 1.0)
# + 20 x (1.0 - GFLOPs(gates))^2 (loss_lambda 20, target_flops 1.0 of the
# unpruned 1.25).
# Optimizer (official create_2optimizers): AdamW, lr 5e-5 x batch / 512
# (1e-4 at the official 4 x 256), weight decay 0.05 (none on 1-D
# parameters, class token and position embedding), the gate thresholds in
# their own optimizer at arc_lr 1e-3 without decay (lr_mult 10 of 1e-4; not
# scaled with the batch by the official code: keep auto_scale_lr's base
# batch when changing it); no warm-up; the official cosine from 1e-4 to
# min_lr 1e-4, i.e. a constant lr. Drop path 0.1, repeated augmentation,
# the DeiT augmentations (params.py defaults).
# Schedule: 10 epochs, the search length of the released architecture
# (ffn_indicators/spvit_deit_ti_l200_t10_search_10epoch.pth; main_pruning.py
# stops searching after epoch 20). Then export the architecture
# (tools/model_converters/spvit_export.py) and fine-tune it
# (spvit-finetune-deit-tiny_4xb256-130e_in1k.py).
# Source: official config/spvit_deit_ti_l200_t10_search.json + params.py.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]

pretrained = \
    'https://dl.fbaipublicfiles.com/deit/deit_tiny_patch16_224-a1311bcf.pth'
model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.SPViTSupernet',
        backbone=dict(
            type='mmvitplug.DeiT', arch='deit-tiny', drop_path_rate=0.1,
            init_cfg=dict(
                type='Pretrained', checkpoint=pretrained,
                prefix='backbone.')),
        theta=1.5,
        alpha=1e-2),
    neck=None,
    head=dict(
        type='LinearClsHead', num_classes=1000, in_channels=192,
        init_cfg=dict(
            type='mmvitplug.Pretrained', checkpoint=pretrained,
            prefix='head.', converter='DeiT')),
    distiller=dict(
        recorders=dict(
            logits=dict(source='head.fc'),
            msa_gates=dict(source='backbone.msa_gates'),
            ffn_gates=dict(source='backbone.ffn_gates')),
        losses=dict(
            loss_cls=dict(
                type='LabelSmoothLoss', label_smooth_val=0.1,
                mode='original', loss_weight=1.0),
            loss_flops=dict(
                type='mmvitplug.SPViTFLOPsLoss', target_gflops=1.0,
                embed_dims=192, num_heads=3, num_patches=196,
                num_extra_tokens=1, in_channels=3, patch_size=16,
                num_classes=1000, loss_weight=20.0)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_flops=dict(msa_gates='msa_gates', ffn_gates='ffn_gates'))))

train_dataloader = dict(batch_size=256)
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            'thresholds': dict(lr_mult=10.0, decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))
max_epochs = 10
param_scheduler = [
    # the official cosine from lr to min_lr = lr: constant
    dict(
        type='CosineAnnealingLR', eta_min_ratio=1.0, by_epoch=True,
        begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
