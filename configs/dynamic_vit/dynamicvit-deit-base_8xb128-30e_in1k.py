# DynamicViT-DeiT-B/0.7 (https://arxiv.org/abs/2106.02034; official
# README: 81.43 top-1, 11.4 GFLOPs): the DeiT-S recipe
# (dynamicvit-deit-small_8xb128-30e_in1k.py) on the official DeiT-B, with
# the README's DeiT-B command: stochastic depth 0.2 and ratio weight 5.0.
# Source: official README (DeiT-B training command) and main.py defaults.
_base_ = ['./dynamicvit-deit-small_8xb128-30e_in1k.py']

pretrained = \
    'https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth'
model = dict(
    backbone=dict(
        backbone=dict(
            arch='deit-base', drop_path_rate=0.2,
            init_cfg=dict(checkpoint=pretrained))),
    head=dict(in_channels=768, init_cfg=dict(checkpoint=pretrained)),
    teacher=dict(
        backbone=dict(arch='deit-base'), head=dict(in_channels=768)),
    teacher_ckpt=pretrained,
    distiller=dict(losses=dict(loss_ratio=dict(loss_weight=5.0))))
