# CaiT-S24 trained on ImageNet-1k at 224 without a teacher
# (https://arxiv.org/abs/2103.17239; the official distilled S24 reaches 83.5
# top-1 at 224). Same recipe as sup-cait-xxs24_8xb128_in1k.py (DeiT's, 400
# epochs, lr 5e-4 * total_batch / 512, LayerScale init 1e-5) with the S24
# stochastic-depth rate 0.1. 8 GPUs x 128 images.
# Source: CaiT paper (S24 stochastic depth) and the official code.
_base_ = './sup-cait-xxs24_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='cait-s24', drop_path_rate=0.1),
    head=dict(in_channels=384),
)
