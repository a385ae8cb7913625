# CaiT-S24 trained on ImageNet-1k with cosub
# (https://arxiv.org/abs/2212.04884). The cosub paper does not report CaiT:
# this applies its recipe (cosub-deit3-small_8xb128_in1k.py: DeiT III's LAMB /
# 3-Augment / BCE recipe, 800 epochs, cosub lam=0.5) to CaiT-S24 with the
# CaiT paper's S24 stochastic-depth rate 0.1 (uniform over the
# self-attention blocks, as the official code; LayerScale init 1e-5 set by
# the arch). Evaluation at crop ratio 1.0, as both papers.
# Source: the cosub recipe applied to CaiT-S24; our combination (no
# published number).
_base_ = './cosub-deit3-small_8xb128_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch='cait-s24',
        drop_path_rate=0.1),
    head=dict(in_channels=384),
)
