# CvT-13 trained on ImageNet-1k at 224 (https://arxiv.org/abs/2103.15808;
# 81.6 top-1 in the paper). Recipe of the official
# experiments/imagenet/cvt/cvt-13-224x224.yaml (microsoft/CvT f851e68),
# run as its README says on 8 GPUs x 256 images: AdamW, lr 2e-3 for the
# total batch of 2048 (the yaml's TRAIN.LR 2.5e-4 is per GPU: the official
# update_config multiplies it by the world size, TRAIN.SCALE_LR defaulting
# to True in lib/config/default.py; auto_scale_lr rescales it to other
# batches), weight decay
# 0.05 except on BatchNorm, LayerNorm, biases and the class token
# (WITHOUT_WD_LIST ['bn', 'bias', 'ln'] + no_weight_decay), 5 warm-up
# epochs from 1e-6, cosine to 1e-5 over 300 epochs; stochastic depth
# (0, 0, 0.1) per stage (DROP_PATH_RATE, linear over each stage's blocks);
# data: the timm pipeline of the yaml (RandomResizedCrop, flip,
# rand-m9-mstd0.5-inc1, random erasing 0.25 per-pixel, Mixup 0.8 / CutMix
# 1.0 switched evenly, label smoothing 0.1) without repeated augmentation
# (DATASET.SAMPLER 'default'); evaluation: resize 256, centre crop 224
# (TEST.CENTER_CROP, bicubic). The official run uses AMP (fp16): add --amp.
# Source: official CvT yaml cvt-13-224x224.yaml, README (8 GPUs) and
# lib/config/default.py (TRAIN.SCALE_LR).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.CvT', arch='cvt-13', drop_path_rate=[0., 0., 0.1]),
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
    batch_size=256,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

lr = 2e-3  # 2.5e-4 x 8 GPUs
optim_wrapper = dict(
    optimizer=dict(lr=lr, weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(s, start_factor=1e-6 / lr) if s['type'] == 'LinearLR' else s
    for s in _base_.param_scheduler
]
auto_scale_lr = dict(base_batch_size=2048, enable=True)
