# RevCol-B trained on ImageNet-1k at 224 with intermediate supervision
# (https://arxiv.org/abs/2212.11696; 84.1 top-1, 138M parameters in the
# official README): the recipe of intersup-revcol-t_8xb128_in1k.py with
# the official configs/revcol_base_1k.yaml's differences: stochastic depth
# 0.4, minimum lr 1e-8, gradient clipping at norm 5.0 (colour jitter 0,
# which RandAugment makes moot anyway); channels 72 / 144 / 288 / 576, the
# supervised columns 3, 7, 11, 15 (every 16 // 4-th).
# Source: official megvii-research/RevCol configs/revcol_base_1k.yaml.
_base_ = ['./intersup-revcol-t_8xb128_in1k.py']

channels = (72, 144, 288, 576)
model = dict(
    backbone=dict(arch='revcol-b', out_columns=(3, 7, 11, 15),
                  drop_path_rate=0.4),
    head=dict(in_channels=channels[-1], decoder_channels=channels))
min_lr = 1e-8
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], eta_min=min_lr),
]
