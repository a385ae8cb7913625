# InternImage-B trained on ImageNet-1k at 224 from scratch
# (https://arxiv.org/abs/2211.05778; 84.9 top-1, 97M parameters in the
# official README): the recipe of
# sup-internimage-t_8xb512_in1k.py (8 GPUs x 512 as the README) with the
# official internimage_b_1k_224.yaml's differences: stochastic depth 0.5;
# the model is post-norm with layer scales initialised at 1e-5 (arch
# 'internimage-b'); 896 channels in the last level.
# Source: official classification/configs/internimage_b_1k_224.yaml and
# README.md (8 GPUs x 512).
_base_ = ['./sup-internimage-t_8xb512_in1k.py']

model = dict(
    backbone=dict(arch='internimage-b', drop_path_rate=0.5),
    head=dict(in_channels=896))
