# HAT-Net-S trained on ImageNet-1k at 224 (https://arxiv.org/abs/2106.03180;
# 82.6 top-1, 25.7M parameters in the official README): the recipe of
# sup-hatnet-t_8xb128_in1k.py (PVT's training settings) with 512-d
# features; stochastic depth 0.1 and no clipping as PVT-Small's config
# (unverified for HAT-Net).
# Source: official HAT-Net README; PVT's configs/pvt/pvt_small.py.
_base_ = ['./sup-hatnet-t_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='hatnet-s', drop_path_rate=0.1),
    head=dict(in_channels=512))
