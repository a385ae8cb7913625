# GhostNet 1.3x trained on ImageNet-1k at 224 (CVPR 2020,
# https://arxiv.org/abs/1911.11907; 75.7 top-1, 7.3M parameters, 226M
# FLOPs): the GhostNet 1.0x recipe (sup-ghostnet-1.0x_8xb128_in1k.py: SGD
# Nesterov, lr 0.4 for batch 1024, weight decay 4e-5, 5 warm-up epochs,
# cosine, 400 epochs, label smoothing 0.1, dropout 0.2, crops of 8%-100%
# of the area); the sources give no per-width change for widths >= 1.
# Source: as sup-ghostnet-1.0x_8xb128_in1k.py.
_base_ = ['./sup-ghostnet-1.0x_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='ghostnet-1.3x'), head=dict(in_channels=1248))
