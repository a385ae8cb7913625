# CvT-21 trained on ImageNet-1k at 224 (https://arxiv.org/abs/2103.15808;
# 82.5 top-1 in the paper). Recipe of the official
# experiments/imagenet/cvt/cvt-21-224x224.yaml (microsoft/CvT f851e68) on
# 8 GPUs x 128 images: as sup-cvt-13_8xb256_in1k.py with lr 1e-3 for the
# total batch of 1024 (the yaml's per-GPU 1.25e-4 x 8 GPUs; the same 2e-3
# per 2048) and weight decay 0.1.
# Source: official CvT yaml cvt-21-224x224.yaml, README (8 GPUs) and
# lib/config/default.py (TRAIN.SCALE_LR).
_base_ = ['./sup-cvt-13_8xb256_in1k.py']

model = dict(backbone=dict(arch='cvt-21'))

train_dataloader = dict(batch_size=128)

lr = 1e-3  # 1.25e-4 x 8 GPUs
optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=0.1))
param_scheduler = [
    dict(s, start_factor=1e-6 / lr) if s['type'] == 'LinearLR' else s
    for s in _base_.param_scheduler
]
auto_scale_lr = dict(base_batch_size=1024, enable=True)
