# DeiT-Ti with the SoT head (https://arxiv.org/abs/2104.10935; "DeiT-T +
# ours", 78.6 top-1 in the official README) trained on ImageNet-1k.
# Source: official jiangtaoxie/SoT scripts/train_SoT_Tiny.sh and main.py
# defaults (timm 0.3.4): AdamW lr 1e-3 for 8 GPUs x 128 images, weight
# decay 0.03, 300 epochs (5 warm-up epochs from 1e-6, cosine to 1e-5),
# drop path 0.1, label smoothing 0.1, Mixup 0.8 / CutMix 1.0,
# RandAugment rand-m9-mstd0.5-inc1, RandomErasing 0.25, no repeated
# augmentation, model EMA 0.99996, eval crop 0.875 (resize 256).
# The head is SoT-Tiny's (sot_src/sot.py SoT_Tiny): MGCrP with 6 heads of
# wr_dim 14, svPN (alpha 0.5, 1 iteration, 1 singular value, learnable start
# vector), no dropout, 'sum_fc' fusion.
# Not official: the repository defines SoT-Tiny/Small/Base on its own
# backbone (a DenseNet "visual token" stem, sinusoidal position embedding,
# no qkv bias, 240/384/528 dims), not on DeiT; its DeiT-based code is not
# released ("Coming soon"), so the DeiT + SoT head here pairs mmvitplug.DeiT
# with SoT-Tiny's head sizes (6 x 14: 7.0 M parameters with DeiT-Ti, the
# README's figure). timm's 10 cool-down epochs at lr 1e-5 after the 300
# are left out.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-tiny',
        drop_path_rate=0.1,
        out_type='raw'),
    neck=None,
    head=dict(
        type='mmvitplug.SoTClsHead',
        num_classes=1000,
        in_channels=192,
        num_extra_tokens=1,
        num_heads=6,
        wr_dim=14,
        normalization=dict(
            type='svPN', alpha=0.5, iter_num=1, sv_num=1,
            init_weight='learn'),
        dropout=0.,
        fusion_type='sum_fc',
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
)

# no repeated augmentation in the official timm training script
train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler',
                                     shuffle=True))

optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.03))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1e-3,
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
auto_scale_lr = dict(base_batch_size=1024)

# timm ModelEma, decay 0.99996 (mmengine's momentum is 1 - decay)
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
