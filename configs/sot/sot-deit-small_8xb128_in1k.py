# DeiT-S with the SoT head ("DeiT-S + ours", 82.7 top-1 in the official
# README) on ImageNet-1k.
# Source: official jiangtaoxie/SoT scripts/train_SoT_Small.sh (the recipe of
# sot-deit-tiny_8xb128_in1k.py: AdamW lr 1e-3 for 8 x 128, weight decay
# 0.03) and SoT-Small's head (sot_src/sot.py SoT_Small): 6 heads of wr_dim
# 24, Dropout 0.5 on the MGCrP features. DeiT instead of the official
# SoT-Small backbone: see sot-deit-tiny_8xb128_in1k.py.
_base_ = './sot-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-small'),
    head=dict(in_channels=384, wr_dim=24, dropout=0.5),
)
