# PiT-Ti trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2103.16302; 73.0 top-1, the "+DeiT" column of the
# official README). The PiT paper trains every size "with the DeiT
# setting": the DeiT recipe of configs/deit (imagenet_deit.py data
# pipeline: Mixup 0.8 / CutMix 1.0, RandAugment m9-mstd0.5, random erasing
# 0.25, repeated augmentation, label smoothing 0.1; deit_adamw_300e.py
# optimizer: AdamW, lr 5e-4 * total_batch / 512 via auto_scale_lr, weight
# decay 0.05 except on 1-D parameters, pos_embed and cls_token, 5 warm-up
# epochs, cosine, 300 epochs) with stochastic depth 0.1 (DeiT's main.py
# default; the paper gives no per-size rate), linear over the 12 blocks.
# 8 GPUs x 128 images.
# Source: PiT paper / official README ("+DeiT" setting) on the DeiT
# paper's Table 9 recipe.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.PiT', arch='pit-ti', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
