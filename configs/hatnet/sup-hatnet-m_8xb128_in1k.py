# HAT-Net-M trained on ImageNet-1k at 224 (https://arxiv.org/abs/2106.03180;
# 84.0 top-1, 42.9M parameters in the official README): the recipe of
# sup-hatnet-t_8xb128_in1k.py (PVT's training settings) with 512-d
# features; stochastic depth 0.3 and gradient-norm clipping 1.0 as
# PVT-Medium's config (unverified for HAT-Net).
# Source: official HAT-Net README; PVT's configs/pvt/pvt_medium.py.
_base_ = ['./sup-hatnet-t_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='hatnet-m', drop_path_rate=0.3),
    head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
