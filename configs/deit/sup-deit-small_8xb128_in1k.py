# DeiT-S trained on ImageNet-1k without a teacher (79.8 top-1 in the paper).
# Source: DeiT paper, Table 9 (recipe of sup-deit-tiny_8xb128_in1k.py).
_base_ = './sup-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-small'),
    head=dict(in_channels=384),
)
