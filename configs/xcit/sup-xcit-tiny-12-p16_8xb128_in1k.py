# XCiT-tiny-12-p16 trained on ImageNet-1k at 224 without a teacher: the recipe
# of sup-xcit-nano-12-p16_8xb128_in1k.py (https://arxiv.org/abs/2106.09681,
# DeiT's for 400 epochs) with stochastic depth 0.0: NOT given by the official
# code or README (only S12/16's 0.05 is; the official T12 detection and
# segmentation configs fine-tune with 0.0). LayerScale eta is set by the
# arch (1.0 for 12 layers, 1e-5 for 24). 8 GPUs x 128 images.
# Source: XCiT paper (400-epoch DeiT recipe) and the official README; the
# drop path is not verified (see recipes.yml).
_base_ = ['./sup-xcit-nano-12-p16_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='xcit-tiny-12-p16', drop_path_rate=0.0),
    head=dict(in_channels=192))
