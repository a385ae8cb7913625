# DeiT-Ti trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2012.12877; 72.2 top-1 in the paper).
# 8 GPUs x 128 images; lr = 5e-4 * 1024 / 512 through auto_scale_lr.
# Source: DeiT paper, Table 9 (and the official README command).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT', arch='deit-tiny', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
