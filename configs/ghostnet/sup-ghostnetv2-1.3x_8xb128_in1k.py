# GhostNetV2 1.3x trained on ImageNet-1k at 224 (NeurIPS 2022,
# https://arxiv.org/abs/2211.12905; official checkpoint
# ck_ghostnetv2_13.pth.tar): the official command with --width 1.3
# (ghostnetv2_pytorch/README.md: "'--width' is used to adjust model's
# width", every other option unchanged), i.e. the GhostNetV2 1.0x recipe of
# sup-ghostnetv2-1.0x_8xb128_in1k.py (RMSpropTF lr 0.064 for batch 1024,
# step decay 0.973 every 2.4 epochs, 450 epochs, EMA 0.9999, RandAugment
# m9, random erasing 0.2, dropout 0.2, label smoothing 0.1).
# Source: official ghostnetv2_pytorch/README.md command and train.py
# defaults.
_base_ = ['./sup-ghostnetv2-1.0x_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='ghostnetv2-1.3x'), head=dict(in_channels=1248))
