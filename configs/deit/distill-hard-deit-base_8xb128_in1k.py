# DeiT-B hard-distilled from RegNetY-16GF (DeiT-B⚗ 83.4 top-1 in the paper).
# Teacher: configs/_teachers/regnety160_in1k.py.
# Source: DeiT paper, hard distillation (recipe of
# distill-hard-deit-tiny_8xb128_in1k.py).
_base_ = './distill-hard-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(in_channels=768),
)
