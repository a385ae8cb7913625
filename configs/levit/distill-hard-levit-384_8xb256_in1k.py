# LeViT-384 hard-distilled from RegNetY-16GF on ImageNet-1k (paper 82.6
# top-1): the recipe of distill-hard-levit-128s_8xb256_in1k.py with the
# official drop path 0.1 of LeViT-384 (0 for the smaller models).
# Source: official LeViT levit.py specification and main.py defaults.
_base_ = ['./distill-hard-levit-128s_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='levit-384', drop_path_rate=0.1),
    head=dict(in_channels=768))
