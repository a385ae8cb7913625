# ResMLP-S12 trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2105.03404; 76.6 top-1 in the paper).
# Recipe as the first author lists it (facebookresearch/deit#106): DeiT's
# data pipeline (imagenet_deit.py: RandomResizedCrop, RandAugment
# rand-m9-mstd0.5-inc1, Mixup 0.8 / CutMix 1.0, random erasing 0.25,
# repeated augmentation, label smoothing 0.1), LAMB with lr 5e-3 for a total
# batch of 2048 and weight decay 0.2 (none on the 1-D biases, Affine
# alpha / beta and LayerScale gammas, as timm's optimizer factory used by the
# official code), 5 warm-up epochs from 1e-6, cosine decay, 400 epochs,
# stochastic depth 0.05 (the same rate for every block, as the official
# code), no fp16. Evaluation crops 224 from a 248 short edge (crop ratio
# 0.9, the official ResMLP test transform, facebookresearch/deit#113).
# 8 GPUs x 128 images: lr 2.5e-3 through auto_scale_lr.
# Source: first author, facebookresearch/deit#106 and #113.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_lamb_300e.py',
    '../_base_/default_runtime.py',
]

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

# evaluation at crop ratio 0.9: short edge int(224 / 0.9) = 248
test_pipeline = [
    dict(t, scale=248) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=5e-3, weight_decay=0.2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-3,
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
train_cfg = dict(max_epochs=400)
