# SReT-LT trained on ImageNet-1k at 224 (https://arxiv.org/abs/2111.05297;
# 76.7 top-1 with slices 8-4-1 / 2-1-1, 5.0M parameters in the official
# README): the recipe of sup-sret-t_8xb128_in1k.py with SReT-LT's MLP
# ratio 4.
# Source: official README and SReT.py; DeiT paper, Table 9.
_base_ = ['./sup-sret-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='sret-lt'))
