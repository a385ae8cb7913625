# DeiT-S trained on ImageNet-1k with Mesa (80.0 top-1 and 3,840 MB
# training memory at batch 128 vs 79.8 / 8,459 MB without, official
# README): the recipe of mesa-deit-tiny_8xb128_in1k.py with DeiT-S and its
# 6 heads as the quantisation groups (official models.py: quant_groups =
# num_heads).
# Source: Mesa official README and HubHop/deit-mesa, DeiT paper Table 9.
_base_ = './mesa-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-small'),
    head=dict(in_channels=384),
)
custom_hooks = [
    dict(
        type='mmvitplug.MesaHook',
        policy=dict(
            ops=('linear', 'matmul', 'softmax', 'gelu', 'layernorm'),
            num_groups=6,
            ema_decay=0.9)),
]
