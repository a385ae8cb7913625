# DeiT-B with the SoT head ("DeiT-B + ours", 82.9 top-1 in the official
# README) on ImageNet-1k.
# Source: official jiangtaoxie/SoT scripts/train_SoT_Base.sh: AdamW lr 5e-4
# for 8 GPUs x 64 images, weight decay 0.065 (otherwise the recipe of
# sot-deit-tiny_8xb128_in1k.py), and SoT-Base's head (sot_src/sot.py
# SoT_Base): 6 heads of wr_dim 38, Dropout 0.7 on the MGCrP features. DeiT
# instead of the official SoT-Base backbone: see
# sot-deit-tiny_8xb128_in1k.py.
_base_ = './sot-deit-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(in_channels=768, wr_dim=38, dropout=0.7),
)
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=5e-4, weight_decay=0.065))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-4,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=300,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=512)
