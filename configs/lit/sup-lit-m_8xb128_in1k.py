# LIT-M trained on ImageNet-1k at 224 (https://arxiv.org/abs/2105.14217;
# 83.0 top-1, 48M parameters in the official README): the recipe of
# sup-lit-s_8xb128_in1k.py with the official lit-medium.yaml's stochastic
# depth 0.3.
# Source: official lit-medium.yaml and config.py / main.py defaults.
_base_ = ['./sup-lit-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='lit-m', drop_path_rate=0.3))
