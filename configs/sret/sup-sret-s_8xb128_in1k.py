# SReT-S trained on ImageNet-1k at 224 (https://arxiv.org/abs/2111.05297;
# 81.9 top-1, 20.9M parameters in the official README): the recipe of
# sup-sret-t_8xb128_in1k.py with 504-d features.
# Source: official README and SReT.py; DeiT paper, Table 9.
_base_ = ['./sup-sret-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='sret-s'), head=dict(in_channels=504))
