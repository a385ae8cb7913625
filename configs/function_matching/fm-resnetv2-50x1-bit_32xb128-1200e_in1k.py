# Function matching (Beyer et al. 2022, "Knowledge distillation: A good
# teacher is patient and consistent", https://arxiv.org/abs/2106.05237):
# BiT-R50x1 trained from scratch on ImageNet-1k ONLY to match the frozen
# BiT-M R152x2 teacher (_teachers/bit-m-r152x2_in1k.py): KL(teacher ||
# student) at temperature 1 (t^2 KL), no label term; teacher and student see
# the same image, an inception crop + flip mixed by Mixup with p = 1 once
# per batch before both forwards ("consistent"); a long schedule
# ("patient": 1200 epochs, the config's default).
# Source: big_vision configs/proj/distill/bit_i1k.py (batch 4096, Adam
# lr 0.03, decoupled weight decay 3e-4, grad clip 1.0, 5000 warm-up steps +
# cosine, mixup p=1, kl t=1). Conversions: big_vision's decoupled decay
# (wd x schedule, not x lr) is AdamW weight_decay = 3e-4 / 0.03 = 0.01
# (follows the lr schedule as big_vision's); 5000 steps at 313 steps per
# epoch (batch 4096) ~ 16 warm-up epochs; big_vision trains on 98% of the
# train split (the rest is its minival), this config on all of it; its
# inception crop keeps 5-100% of the area.
_base_ = [
    '../_base_/distillers/logit_kd.py',
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
    '../_teachers/bit-m-r152x2_in1k.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='TIMMBackbone', model_name='resnetv2_50x1_bit',
        pretrained=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.logit_kd_inputs,
        losses=dict(
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=1.0,
                tau_squared=True))),
    # value_range(-1, 1), as the teacher was trained
    data_preprocessor=dict(
        type='mmvitplug.MultiViewClsDataPreprocessor',
        num_classes=1000,
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=True,
        batch_augments=dict(augments=[dict(type='Mixup', alpha=1.0)])),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop', scale=224, crop_ratio_range=(0.05, 1.0),
        backend='pillow', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=0.03, betas=(0.9, 0.999), weight_decay=0.01),
    # big_vision decays the kernels only
    paramwise_cfg=dict(flat_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=16,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=16,
        end=1200, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=1200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=True, base_batch_size=4096)
