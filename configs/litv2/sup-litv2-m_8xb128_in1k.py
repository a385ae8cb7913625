# LITv2-M trained on ImageNet-1k at 224 (https://arxiv.org/abs/2205.13213;
# 83.3 top-1, 49M parameters in the official README): the recipe of
# sup-litv2-s_8xb128_in1k.py with the official litv2-medium.yaml's
# stochastic depth 0.3.
# Source: official litv2-medium.yaml and config.py / main.py defaults.
_base_ = ['./sup-litv2-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='litv2-m', drop_path_rate=0.3))
