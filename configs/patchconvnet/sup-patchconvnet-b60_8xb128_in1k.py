# PatchConvNet-B60 trained on ImageNet-1k (https://arxiv.org/abs/2112.13692;
# 83.5 top-1, 99.4M parameters). Same recipe as the S60 config (see its
# NOTE); B60 uses LayerScale init 1e-6 (arch zoo).
# Source: first author, facebookresearch/deit#185 (recipe of
# sup-patchconvnet-s60_8xb128_in1k.py).
_base_ = './sup-patchconvnet-s60_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='patchconvnet-b60'),
    head=dict(in_channels=768),
)
