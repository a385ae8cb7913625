# PatchConvNet-S60 trained on ImageNet-1k (https://arxiv.org/abs/2112.13692;
# 82.1 top-1, 25.2M parameters in the paper / official README).
# Recipe: the DeiT one with the changes the first author gives for
# reproducing PatchConvNet (facebookresearch/deit#185): LAMB instead of
# AdamW, lr 3e-3 for a total batch of 2048 (deit_lamb_300e.py; 1.5e-3 for
# 8 x 128 through auto_scale_lr), stochastic depth adapted to the model
# size; everything else at the official main.py defaults: 300 epochs,
# weight decay 0.05, 5 warm-up epochs, RandAugment m9-mstd0.5, Mixup 0.8 /
# CutMix 1.0, random erasing 0.25, repeated augmentation, label smoothing
# 0.1 (imagenet_deit.py). Model choices of the official code: LayerScale
# init 1e-4 (S60, arch zoo), the same stochastic-depth rate for every trunk
# block, no weight decay on the class token, norms, biases and LayerScale.
# NOTE: the per-size stochastic-depth rates are in the paper's appendix,
# which could not be read when this config was written: 0.1 is the official
# main.py default; check it against the paper before a reproduction run.
# Source: first author, facebookresearch/deit#185, on the official
# main.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_lamb_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
