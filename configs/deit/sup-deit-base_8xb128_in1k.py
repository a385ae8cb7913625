# DeiT-B trained on ImageNet-1k without a teacher (81.8 top-1 in the paper).
# Source: DeiT paper, Table 9 (recipe of sup-deit-tiny_8xb128_in1k.py).
_base_ = './sup-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(in_channels=768),
)
