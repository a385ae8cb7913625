# DeiT-S hard-distilled from RegNetY-16GF (DeiT-S⚗ 81.2 top-1 in the paper).
# Teacher: configs/_teachers/regnety160_in1k.py.
# Source: DeiT paper, hard distillation (recipe of
# distill-hard-deit-tiny_8xb128_in1k.py).
_base_ = './distill-hard-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-small'),
    head=dict(in_channels=384),
)
