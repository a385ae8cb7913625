# DeiT-B trained on ImageNet-1k without a teacher (81.8 top-1 in the paper).
_base_ = './sup-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(in_channels=768),
)
