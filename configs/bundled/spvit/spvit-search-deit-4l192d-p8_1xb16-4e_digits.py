# SPViT search (He et al. 2021, https://arxiv.org/abs/2111.11802; official
# zhuang-group/SPViT, SPViT_DeiT/main_pruning.py + models_pruning.py) at
# digits scale: the bundled digits DeiT teacher
# (_teachers/deit-4l192d-p8_digits.py: 4 blocks, 192 dims, 3 heads, patch 8
# on 32 px, a 4 x 4 grid of 16 patch tokens; 0.0300 GFLOPs by the official
# formula) wrapped in mmvitplug.SPViTSupernet: each attention may become
# MSA / 3 x 3 conv / 1 x 1 conv / skip (convolutions derived from the
# attention's own weights), each FFN hidden unit has a gate; gates
# initialised at theta = 1.5 (official). Backbone and head start from the
# teacher.
# Loss (official engine.py train_one_epoch_pruning): CE(labels)
# + lambda x (target - GFLOPs(gates))^2 with the target 0.024 GFLOPs, 0.8 x
# the full model (the official DeiT-Ti search: 1.0 of 1.25). lambda =
# 35000: the official 20 scaled by (0.25 / 0.006)^2, so that the initial
# complexity loss is the official one (~1.25) although the digits model is
# 40x smaller.
# Optimizer (official create_2optimizers): AdamW, weights lr 1e-4 (weight
# decay 0.05, none on 1-D parameters), the gate thresholds at lr 1e-2
# (lr_mult 100, no decay; the official arc_lr 1e-3 at ~50k iterations, here
# 360: scaled up so that a gate can close), constant lr (the official
# search stops after ~10 of its 300 cosine epochs: a nearly constant lr).
# Schedule: 4 epochs of batch 16 (90 iterations an epoch). No augmentation.
# Then export the architecture and fine-tune it:
#   python tools/model_converters/spvit_export.py \
#       configs/bundled/spvit/spvit-search-deit-4l192d-p8_1xb16-4e_digits.py \
#       work_dirs/spvit-search-deit-4l192d-p8_1xb16-4e_digits/epoch_4.pth \
#       configs/bundled/spvit/spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py
# Baseline on the same schedule (8 epochs):
# spvit-unpruned-deit-4l192d-p8_1xb16-8e_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/deit-4l192d-p8_digits.py',
]

model = dict(
    _delete_=True,
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.SPViTSupernet',
        backbone=dict(
            _base_.deit_backbone,
            init_cfg=dict(
                type='Pretrained', checkpoint=_base_.teacher_ckpt,
                prefix='backbone.')),
        theta=1.5,
        alpha=1e-2),
    neck=None,
    head=dict(
        _base_.deit_head,
        init_cfg=dict(
            type='Pretrained', checkpoint=_base_.teacher_ckpt,
            prefix='head.')),
    distiller=dict(
        recorders=dict(
            logits=dict(source='head.fc'),
            # the gate indicators the FLOPs count: (4, 3) and (4, 768)
            msa_gates=dict(source='backbone.msa_gates'),
            ffn_gates=dict(source='backbone.ffn_gates')),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_flops=dict(
                type='mmvitplug.SPViTFLOPsLoss', target_gflops=0.024,
                embed_dims=192, num_heads=3, num_patches=16,
                num_extra_tokens=1, in_channels=3, patch_size=8,
                num_classes=10, loss_weight=35000.0)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_flops=dict(msa_gates='msa_gates', ffn_gates='ffn_gates'))),
    data_preprocessor=_base_.data_preprocessor)

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            'thresholds': dict(lr_mult=100.0, decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=4)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=30),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
