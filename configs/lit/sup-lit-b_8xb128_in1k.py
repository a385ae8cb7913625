# LIT-B trained on ImageNet-1k at 224 (https://arxiv.org/abs/2105.14217;
# 83.4 top-1, 86M parameters in the official README): the recipe of
# sup-lit-s_8xb128_in1k.py with the official lit-base.yaml's stochastic
# depth 0.5 (1024-d features).
# Source: official lit-base.yaml and config.py / main.py defaults.
_base_ = ['./sup-lit-s_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='lit-b', drop_path_rate=0.5),
    head=dict(in_channels=1024))
