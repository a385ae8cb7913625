# GhostNet 0.5x trained on ImageNet-1k at 224 (CVPR 2020,
# https://arxiv.org/abs/1911.11907; 66.2 top-1, 2.6M parameters, 42M
# FLOPs): the GhostNet 1.0x recipe (sup-ghostnet-1.0x_8xb128_in1k.py: SGD
# Nesterov, lr 0.4 for batch 1024, weight decay 4e-5, 5 warm-up epochs,
# cosine, 400 epochs, label smoothing 0.1, dropout 0.2) with the lighter
# crop of the official TF code for widths below 1 (ghostnet_tensorflow
# main.py: "use lighter augs if model is too small",
# crop_area_fraction=0.49: random crops of 49%-100% of the image area).
# Source: as sup-ghostnet-1.0x_8xb128_in1k.py; official ghostnet_tensorflow
# main.py (crop_area_fraction 0.49 for width_ratio < 1).
_base_ = ['./sup-ghostnet-1.0x_8xb128_in1k.py']

model = dict(backbone=dict(arch='ghostnet-0.5x'), head=dict(in_channels=480))

train_pipeline = [
    dict(t, crop_ratio_range=(0.49, 1.0))
    if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
