# DeiT-Ti trained on ImageNet-1k with Mesa (https://arxiv.org/abs/2111.11124;
# 72.1 top-1 and 1,858 MB training memory at batch 128 vs 71.9 / 4,171 MB
# without, official README).
# The official DeiT-Mesa demo (HubHop/deit-mesa, scripts/run.sh and
# main.py defaults) trains with the DeiT recipe: 128 images per GPU,
# lr 5e-4 * batch / 512, AdamW, weight decay 0.05, 300 epochs, 5 warm-up
# epochs, drop path 0.1, label smoothing 0.1, Mixup 0.8 / CutMix 1.0,
# repeated augmentation, fp16 autocast with a loss scaler (AmpOptimWrapper
# here). Its policy (config/policy_tiny-8bit.txt) stores in 8 bits, with
# EMA decay 0.9, the saved tensors of every fc (the head included), matmul,
# softmax, GELU and LayerNorm, each in num_heads (3) groups (models.py);
# the patch-embedding conv stays in full precision. mmvitplug.MesaHook
# converts the DeiT of configs/deit/sup-deit-tiny_8xb128_in1k.py so.
# Source: Mesa official README and HubHop/deit-mesa (policy, run.sh,
# main.py), DeiT paper Table 9.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT', arch='deit-tiny', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
custom_hooks = [
    dict(
        type='mmvitplug.MesaHook',
        policy=dict(
            ops=('linear', 'matmul', 'softmax', 'gelu', 'layernorm'),
            num_groups=3,
            ema_decay=0.9)),
]
