# SReT-LT distilled on ImageNet-1k (https://arxiv.org/abs/2111.05297; 77.7
# top-1 in the official README): the soft-label distillation of
# distill-soft-sret-t_8xb128_in1k.py with SReT-LT.
# Source: official README (soft-label distillation) and kd_loss.py.
_base_ = ['./distill-soft-sret-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='sret-lt'))
