# Locality guidance (Li et al., "Locality Guidance for Improving Vision
# Transformers on Tiny Datasets", ECCV 2022,
# https://arxiv.org/abs/2207.10026): DeiT-Ti trained from scratch on
# CIFAR-100 while imitating the features of a small CNN trained on the
# 32x32 images (_teachers/resnet56_cifar100.py, frozen, in eval mode).
# Dual-task loss: CE on the labels + 2.5 x the sum over the pairs (student
# block 0, 6, 11 <-> teacher stage 1, 2, 3) of the MSE between
#   student: the block's patch tokens (class token dropped) as a 14x14 map
#            -> a 1x1 conv to the teacher's channels (a connector, trained
#            with the student) -> bilinear resize,
#   teacher: the stage output on the input bilinearly resized to 32 px
#            (teacher_input_size) -> bilinear resize,
# both resized to the larger grid of the pair (32, 16, 14: the teacher's
# 32x32 / 16x16 / 8x8 against the student's 14x14). The official README
# reports 65.08 top-1 for DeiT-Ti without and 78.15 with the guidance.
# Source: official repository lkhl/tiny-transformers,
# configs/deit/deit-ti_c100_ours.yaml, pycls/models/distill.py,
# pycls/core/{trainer,optimizer,config}.py, pycls/datasets/transforms.py.
# Recipe: AdamW lr 5e-4 for batch 128, weight decay 0.05 (none on biases,
# norms, class token and position embedding; decayed on the connectors'
# kernels, as the official optimizer), 300 epochs, 20 warm-up epochs from
# lr x 1e-3, cosine to 5e-6, drop path 0.1, no label smoothing / Mixup /
# CutMix / EMA; student input 224 (MODEL.IMG_SIZE's default: the 32x32
# images are upsampled by the crop), timm's DeiT augmentation; evaluation
# on the test split resized to 224.
# Deviations: the teacher (see its file: a 3-stage ResNet-28 from
# mmpretrain's ResNet_CIFAR, not ResNet-56); the official teacher is never
# put in eval mode (its BN uses batch statistics and keeps updating), ours
# is frozen in eval mode; timm's scheduler evaluates the cosine at epoch t
# of 300 (so the warm-up ends at 4.95e-4), ours spans epochs 20-300 from
# 5e-4 (both step once per epoch, as the official).
_base_ = [
    '../_base_/datasets/cifar100_224.py',
    '../_base_/default_runtime.py',
    '../_teachers/resnet56_cifar100.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DeiT', arch='deit-tiny', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=192,
        # the official DeiT zero-initialises its classifier
        init_cfg=dict(type='Constant', layer='Linear', val=0., bias=0.),
    ),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    # DISTILLATION.TEACHER_IMG_SIZE: the teacher sees the 224 px batch
    # resized to its 32 px
    teacher_input_size=32,
    distiller=dict(
        recorders=dict(
            logits=dict(source='head.fc'),
            # INTER_STUDENT_INDEX [0, 6, 11]: block outputs (N, 1 + 196, 192)
            s0=dict(source='backbone.blocks.0'),
            s1=dict(source='backbone.blocks.6'),
            s2=dict(source='backbone.blocks.11'),
            # INTER_TEACHER_INDEX [0, 1, 2]: stage outputs at 32 px
            t0=dict(source='teacher.backbone.layer1'),  # (N, 16, 32, 32)
            t1=dict(source='teacher.backbone.layer2'),  # (N, 32, 16, 16)
            t2=dict(source='teacher.backbone.layer3')),  # (N, 64, 8, 8)
        connectors=dict(
            # patch tokens (class token dropped) -> (N, 192, 14, 14)
            tokens=dict(
                type='mmvitplug.TokensToMapConnector', num_extra_tokens=1,
                grid_size=14),
            # INTER_TRANSFORM linear: a 1x1 conv per pair
            proj0=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=16),
            proj1=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=32),
            proj2=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=64),
            # the larger grid of each pair, both sides
            size0=dict(type='mmvitplug.ResizeConnector', size=32),
            size1=dict(type='mmvitplug.ResizeConnector', size=16),
            size2=dict(type='mmvitplug.ResizeConnector', size=14)),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            # INTER_WEIGHT 2.5 on each pair's MSE
            loss_lg0=dict(type='mmvitplug.HintLoss', loss_weight=2.5),
            loss_lg1=dict(type='mmvitplug.HintLoss', loss_weight=2.5),
            loss_lg2=dict(type='mmvitplug.HintLoss', loss_weight=2.5)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_lg0=dict(
                preds=dict(
                    recorder='s0', connector=['tokens', 'proj0', 'size0']),
                target=dict(recorder='t0', connector='size0')),
            loss_lg1=dict(
                preds=dict(
                    recorder='s1', connector=['tokens', 'proj1', 'size1']),
                target=dict(recorder='t1', connector='size1')),
            loss_lg2=dict(
                preds=dict(
                    recorder='s2', connector=['tokens', 'proj2', 'size2']),
                target=dict(recorder='t2', connector='size2')))),
)

# CIFAR-100 as mmpretrain loads it: RGB uint8 arrays, no files to read.
# The official transforms normalise with the ImageNet mean / std.
data_preprocessor = dict(
    num_classes=100,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=False)  # already RGB

# timm create_transform(224, is_training=True, auto_augment=
# 'rand-m9-mstd0.5-inc1', re_prob=0.25, re_mode='pixel', re_count=1,
# interpolation='bicubic'); its color_jitter=0.4 is unused with RandAugment
train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(
            pad_val=[round(x) for x in data_preprocessor['mean']],
            interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=data_preprocessor['mean'],
        fill_std=data_preprocessor['std']),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=200)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=5e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
)
# timm CosineLRScheduler stepped once per epoch
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
        end=20),
    dict(
        type='CosineAnnealingLR', eta_min=5e-6, by_epoch=True, begin=20,
        end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128, enable=True)
