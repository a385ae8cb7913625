# ResMLP-S12 trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2105.03404; 76.6 top-1 in the paper).
# Recipe of the paper (DeiT-style data pipeline, LAMB instead of AdamW):
# RandomResizedCrop, RandAugment m9-mstd0.5, Mixup 0.8 / CutMix 1.0, random
# erasing 0.25, repeated augmentation and label smoothing 0.1 (inherited from
# imagenet_deit.py); LAMB with lr 5e-3 and weight decay 0.2 (none on the
# 1-D biases, Affine alpha/beta and LayerScale gammas, as timm's optimizer
# factory used by the official code), 5 warm-up epochs, cosine decay, 400
# epochs. Evaluation crops 224 from a 248 short edge (crop ratio 0.9, the
# official ResMLP test transform).
# Assumptions (the paper does not state them in a form we could verify):
# lr 5e-3 is taken for a total batch of 2048, as in LibAI's reproduction of
# the official recipe (8 x 256), and rescaled by auto_scale_lr; stochastic
# depth 0.05 as in that reproduction.
# 8 GPUs x 128 images.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch='resmlp-12',
        out_type='avg_featmap',
        drop_path_rate=0.05),
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

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=248,  # int(224 / 0.9)
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='Lamb', lr=5e-3, weight_decay=0.2, eps=1e-8,
        betas=(0.9, 0.999)),
    # every 1-D parameter: biases, Affine alpha / beta, LayerScale gamma
    paramwise_cfg=dict(flat_decay_mult=0.0),
    clip_grad=None,
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=400,
        convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=400, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# lr = 5e-3 * (GPUs x batch per GPU) / 2048 (2.5e-3 for 8 x 128)
auto_scale_lr = dict(base_batch_size=2048, enable=True)
