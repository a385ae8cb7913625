# EcoFormer (Liu et al. 2022, https://arxiv.org/abs/2209.09004) on the
# pyramid: the LIT-Ti style LIT of
# configs/bundled/lit/sup-lit-ti-8l32d-p4_1xb64_digits.py (32x32 digits, a
# 4x4 patch embedding, stages of 32 / 64 / 96 / 128 channels and 1 / 1 / 2
# / 1 blocks, plain attention in stages 3 and 4, a class token joining the
# last stage) wrapped by mmvitplug.EcoFormer: the attention of stage 3's
# two blocks is EcoFormer's (16-bit codes), stage 4 keeps softmax attention
# (skip 'stages.3.*'), as the official PVTv2-EcoFormer models keep their
# last stage. Stage 3 runs on a 2x2 grid at this input size: 4 anchors,
# the most / least similar token per row, a refit every epoch. Smoke
# config of the pyramid path (the e2e test trains it); everything else is
# the baseline's schedule.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.EcoFormer',
        backbone=dict(
            type='mmvitplug.LIT',
            arch=dict(
                embed_dims=(32, 64, 96, 128),
                depths=(1, 1, 2, 1),
                num_heads=(1, 2, 3, 4),
                mlp_ratios=(8, 8, 4, 4),
                has_msa=(0, 0, 1, 1),
                position='absolute',
                norm_eps=1e-6),
            img_size=32,
            drop_path_rate=0.1),
        nbits=16,
        num_anchors=4,
        topk=1,
        skip=('stages.3.*', )),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(
    optimizer=dict(lr=2e-3),
    paramwise_cfg=dict(
        custom_keys={'conv_offset.weight': dict(lr_mult=0.01)}))
custom_hooks = [dict(type='mmvitplug.EcoFormerHook', interval=1)]
