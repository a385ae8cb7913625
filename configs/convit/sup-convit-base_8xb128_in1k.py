# ConViT-B trained on ImageNet-1k (https://arxiv.org/abs/2103.10697: 82.4
# top-1 in the paper). The recipe of sup-convit-tiny_8xb128_in1k.py (DeiT's,
# the official main.py defaults, stochastic depth 0.1); the official README
# trains it on 16 GPUs x 64 images, the same total batch of 1024.
# Source: ConViT paper (DeiT's hyper-parameters) and the official main.py
# defaults / README.
_base_ = './sup-convit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='convit-base'),
    head=dict(in_channels=768),
)
