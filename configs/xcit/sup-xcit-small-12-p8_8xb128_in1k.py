# XCiT-small-12-p8 trained on ImageNet-1k at 224 without a teacher: the recipe
# of sup-xcit-nano-12-p16_8xb128_in1k.py (https://arxiv.org/abs/2106.09681,
# DeiT's for 400 epochs) with stochastic depth 0.05, S12/16's in the official
# README's training command; the official code and README give no S12/8
# rate (the official dense configs use 0.05 for both S12/16 and S12/8).
# LayerScale eta is set by the arch (1.0 for 12 layers, 1e-5 for 24).
# 8 GPUs x 128 images.
# Source: the official README recipe (S12/16's drop path); S12/8's own
# ImageNet rate is not verified here.
_base_ = ['./sup-xcit-nano-12-p16_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='xcit-small-12-p8', drop_path_rate=0.05),
    head=dict(in_channels=384))
