# G-Ghost RegNetX-4.0GF trained on ImageNet-1k at 224 (IJCV 2022,
# https://arxiv.org/abs/2201.03297; the official README: 78.6 top-1,
# 15.7M parameters, 2.2B FLOPs, g_ghost_regnet_4.0g_78.6.pth): the
# recipe of sup-g-ghost-regnetx-032_8xb32_in1k.py (the PyTorch ImageNet
# example's defaults: SGD lr 0.1 for batch 256, momentum 0.9, weight decay
# 1e-4 everywhere, 90 epochs, lr x 0.1 every 30 epochs).
# Source: official g_ghost_pytorch/readme.md; pytorch/examples
# imagenet/main.py defaults.
_base_ = ['./sup-g-ghost-regnetx-032_8xb32_in1k.py']

model = dict(
    backbone=dict(arch='g-ghost-regnetx-040'), head=dict(in_channels=1360))
