# G-Ghost RegNetX-16.0GF trained on ImageNet-1k at 224 (IJCV 2022,
# https://arxiv.org/abs/2201.03297; the official README: 79.9 top-1,
# 32.4M parameters, 9.0B FLOPs, g_ghost_regnet_16.0g_79.9.pth): the
# recipe of sup-g-ghost-regnetx-032_8xb32_in1k.py (the PyTorch ImageNet
# example's defaults: SGD lr 0.1 for batch 256, momentum 0.9, weight decay
# 1e-4 everywhere, 90 epochs, lr x 0.1 every 30 epochs).
# Source: official g_ghost_pytorch/readme.md; pytorch/examples
# imagenet/main.py defaults.
_base_ = ['./sup-g-ghost-regnetx-032_8xb32_in1k.py']

model = dict(
    backbone=dict(arch='g-ghost-regnetx-160'), head=dict(in_channels=2048))
