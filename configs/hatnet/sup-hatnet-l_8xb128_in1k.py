# HAT-Net-L trained on ImageNet-1k at 224 (https://arxiv.org/abs/2106.03180;
# 84.2 top-1, 63.1M parameters in the official README): the recipe of
# sup-hatnet-m_8xb128_in1k.py (PVT's training settings, stochastic depth
# 0.3 and clipping 1.0 as PVT-Large's config, unverified for HAT-Net) with
# 640-d features.
# Source: official HAT-Net README; PVT's configs/pvt/pvt_large.py.
_base_ = ['./sup-hatnet-m_8xb128_in1k.py']

model = dict(backbone=dict(arch='hatnet-l'), head=dict(in_channels=640))
