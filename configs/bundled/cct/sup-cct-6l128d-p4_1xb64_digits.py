# CCT trained from scratch on the bundled digits (32x32), the CIFAR-style
# CCT of the paper scaled down for a CPU budget: a 3x2 convolutional
# tokenizer (two 3x3 stride-1 convs with ReLU and 3x3 stride-2 max-pooling:
# 8x8 tokens, one per pixel of the original 8x8 digit), 6 CCT layers of 128
# channels (4 heads, MLP 256; cct-6-3x2 has 256 channels), sequence pooling,
# learnable position embedding.
# Source: bundled-data smoke config, not a paper recipe. Regularisation as
# the official CIFAR recipe (configs/pretrained/cct_7-3x1_cifar10_*.yml and
# the CCT constructor defaults: attention dropout 0.1, stochastic depth
# 0.1, label smoothing 0.1, weight decay 0.06 also on the position
# embedding, as timm's optimizer factory of the official code decays every
# tensor of >= 2 dims); the digits schedule (15 epochs, 1 warm-up epoch,
# cosine) instead of 300 epochs, lr 1e-3 at batch 64, and the digits
# pipeline's random 2-pixel shifts (the convolutional tokenizer is shift
# equivariant) instead of AutoAugment / Mixup / CutMix.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CCT',
        arch=dict(
            embed_dims=128, num_layers=6, num_heads=4,
            feedforward_channels=256, kernel_size=3, num_conv_layers=2),
        img_size=32,
        attn_drop_rate=0.1,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.06),
    paramwise_cfg=dict(
        _delete_=True, flat_decay_mult=0.0))
default_hooks = dict(logger=dict(interval=20))
