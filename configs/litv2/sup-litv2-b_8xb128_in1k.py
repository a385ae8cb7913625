# LITv2-B trained on ImageNet-1k at 224 (https://arxiv.org/abs/2205.13213;
# 83.6 top-1, 87M parameters in the official README): the recipe of
# sup-litv2-s_8xb128_in1k.py with the official litv2-base.yaml's
# stochastic depth 0.5 (1024-d features).
# Source: official litv2-base.yaml and config.py / main.py defaults.
_base_ = ['./sup-litv2-s_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='litv2-b', drop_path_rate=0.5),
    head=dict(in_channels=1024))
