# CCT-14/7x2 trained on ImageNet-1k at 224 (https://arxiv.org/abs/2104.05704;
# official 80.67 top-1). Recipe of the official
# configs/pretrained/cct_14-7x2_imagenet.yml run by its train.py (timm's) on
# 8 GPUs x 128 images: AdamW, lr 5e-4 for the total batch of 1024 (timm's
# train.py of the repository does not rescale it), weight decay 0.05 on
# every tensor of >= 2 dims (timm's optimizer factory: no decay on biases
# and norms only; the position embedding is decayed), 10 warm-up epochs
# from 1e-6 (configs/datasets/imagenet.yml: 25 for the dataset default; the
# model config sets 10), cosine to 1e-5 over 300 epochs (the official
# 10 cool-down epochs at the minimum lr are left out: timm counts them
# after the 300), label smoothing 0.1, RandAugment m9-mstd0.5-inc1, random
# erasing 0.25, Mixup 0.8 / CutMix 1.0, evaluation crop ratio 0.9 (timm:
# bicubic resize of the short edge to floor(224 / 0.9) = 248, centre crop
# 224). The CCT constructor defaults of the official code apply:
# attention dropout 0.1, stochastic depth 0.1 (linear over the layers), no
# other dropout. The official training has no repeated augmentation, so
# the sampler is the default one.
# Source: official SHI-Labs/Compact-Transformers configs
# (pretrained/cct_14-7x2_imagenet.yml, datasets/imagenet.yml) and
# src/cct.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CCT',
        arch='cct-14-7x2',
        attn_drop_rate=0.1,
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

train_dataloader = dict(
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
# evaluation at crop ratio 0.9
test_pipeline = [
    dict(t, scale=248) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# timm's optimizer factory: no decay on 1-D tensors only
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(_delete_=True, flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=10,
        end=300,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024, enable=True)
