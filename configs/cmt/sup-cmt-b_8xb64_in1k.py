# CMT-B trained on ImageNet-1k at 256 (https://arxiv.org/abs/2107.06263;
# 84.5 top-1, 45.7M parameters at 256 in the official README). Recipe of
# the official README command for CMT-Base on 8 GPUs x 64 images: lr 5e-4 x
# total batch / 512 (train.py's default lr; 5e-4 for 8 x 64), weight decay
# 0.05, 300 epochs, 20 warm-up epochs from 1e-6, cosine to 2e-5,
# stochastic depth 0.25, dropout 0.3 on the 1280-d features (the official
# cmt_b's dp, the arch's head_drop_rate), model EMA with decay 0.99996,
# input 256 (the arch's img_size, which sizes the position biases),
# evaluation resize int(256 / 224 * 256) = 292 then centre crop 256;
# everything else as sup-cmt-s_8xb128_in1k.py (the official train.py
# defaults). The official run uses apex AMP: add --amp.
# Source: official cmt_pytorch/README.md command for CMT-Base and train.py
# defaults.
_base_ = './sup-cmt-s_8xb128_in1k.py'

model = dict(backbone=dict(arch='cmt-b', drop_path_rate=0.25))

img_size = 256
eval_resize = int(256 / 224 * img_size)
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
        for t in _base_.train_pipeline
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(t, scale=eval_resize) if t['type'] == 'ResizeEdge' else
        dict(t, crop_size=img_size) if t['type'] == 'CenterCrop' else t
        for t in _base_.test_pipeline
    ]))
test_dataloader = val_dataloader

min_lr = 2e-5
warmup_lr = 1e-6
param_scheduler = [
    dict(s, eta_min=min_lr) if s['type'] == 'CosineAnnealingLR' else
    dict(s, start_factor=warmup_lr / _base_.lr) for s in _base_.param_scheduler
]
