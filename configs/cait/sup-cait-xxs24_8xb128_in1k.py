# CaiT-XXS24 trained on ImageNet-1k at 224 without a teacher
# (https://arxiv.org/abs/2103.17239; the paper's 77.6 / official 78.4 top-1
# use hard distillation from a RegNetY-16GF, which this config leaves out).
# Recipe of the paper: DeiT's (imagenet_deit.py data pipeline: Mixup 0.8 /
# CutMix 1.0, RandAugment m9-mstd0.5, random erasing 0.25, repeated
# augmentation, label smoothing 0.1; deit_adamw_300e.py optimizer: AdamW,
# lr 5e-4 * total_batch / 512 via auto_scale_lr, weight decay 0.05, 5 warm-up
# epochs, cosine) trained for 400 epochs, with LayerScale (init 1e-5 for
# depth 24, set by the arch) and stochastic depth 0.05 for XXS24 (uniform
# over the blocks, as the official code). As timm's optimizer factory used
# by the official code, 1-D parameters (biases, norms, LayerScale gammas),
# pos_embed and cls_token get no weight decay. Evaluation uses a crop ratio
# of 1.0 (resize the short edge to 224, centre crop 224), as the official
# CaiT README asks. 8 GPUs x 128 images.
# Source: CaiT paper (training recipe) and the official
# CaiT README / code.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CaiT', arch='cait-xxs24', drop_path_rate=0.05),
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

# evaluation at crop ratio 1.0
test_pipeline = [
    dict(t, scale=224) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(paramwise_cfg=dict(flat_decay_mult=0.0))
# the DeiT schedule (deit_adamw_300e.py) stretched to 400 epochs
param_scheduler = [
    dict(s, end=400) if s['type'] == 'CosineAnnealingLR' else s
    for s in _base_.param_scheduler
]
train_cfg = dict(by_epoch=True, max_epochs=400, val_interval=1)
