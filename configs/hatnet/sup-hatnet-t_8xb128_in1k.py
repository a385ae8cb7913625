# HAT-Net-T trained on ImageNet-1k at 224 (https://arxiv.org/abs/2106.03180;
# 79.8 top-1, 12.7M parameters in the official README). The official
# repository (yun-liu/HAT-Net) "exactly follows the code and the training
# settings of PVT": PVT's classification code (whai362/PVT, DeiT's
# main.py) on 8 GPUs x 128 images: the DeiT recipe of
# ../_base_/schedules/deit_adamw_300e.py (AdamW, lr 5e-4 x total batch /
# 512 by auto_scale_lr, weight decay 0.05 except on biases and norms, 5
# warm-up epochs from 1e-6, cosine to 1e-5, 300 epochs) and
# ../_base_/datasets/imagenet_deit.py (RandAugment, random erasing 0.25,
# repeated augmentation, Mixup 0.8 / CutMix 1.0, label smoothing 0.1,
# evaluation resize 256 then centre crop 224); the official classifier's
# dropout 0.2 before the linear layer; stochastic depth 0.1 and no
# gradient clipping as PVT-Tiny's config (configs/pvt/pvt_tiny.py; the
# HAT-Net sources give no per-size values: unverified).
# Source: official HAT-Net README and HAT_Net.py; PVT's main.py defaults
# and configs/pvt/pvt_tiny.py.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.HATNet', arch='hatnet-t', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.DropoutLinearClsHead',
        num_classes=1000,
        in_channels=384,
        dropout_rate=0.2,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
