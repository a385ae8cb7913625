# ConViT-S trained on ImageNet-1k (https://arxiv.org/abs/2103.10697: 81.3
# top-1 in the paper). The recipe of sup-convit-tiny_8xb128_in1k.py (DeiT's,
# the official main.py defaults, stochastic depth 0.1).
# Source: ConViT paper (DeiT's hyper-parameters) and the official main.py
# defaults.
_base_ = './sup-convit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='convit-small'),
    head=dict(in_channels=432),
)
