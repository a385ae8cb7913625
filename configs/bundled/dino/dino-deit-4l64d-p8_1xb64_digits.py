# DINO (https://arxiv.org/abs/2104.14294) self-supervised pretraining on the
# bundled digits (32x32 grey digits, ~1.4k training images, labels unused):
# a 4-block DeiT of 64 dims (2 heads, MLP 256) on 8x8 patches (a 4x4 grid
# of tokens, each covering 2x2 pixels of the original 8x8 digit; the arch
# of the MACL and UP-ReID digits configs), with the DINO recipe of
# configs/dino/dino-deit-small_8xb64_in1k.py scaled down to the data.
# Source: bundled-data smoke config, not a paper recipe.
#
# What changes from the ImageNet recipe, and why:
# - K = 256 prototypes (head 64 -> 256 -> 256 -> 64 -> 256) instead of
#   65536: 1.4k images (DINO maintainers' advice for small data sets,
#   facebookresearch/dino issues #61, #246, #273);
# - BatchNorm in the head (use_bn=True, an official option): at random
#   init the features of all digits are nearly identical (mean pairwise
#   cosine 0.96) and the sharpened teacher targets almost uniform; without
#   BN the teacher collapses to the uniform distribution within the first
#   epochs;
# - teacher temperature 0.02 throughout (official 0.04 -> 0.07 warm-up):
#   with the official warm-up the teacher collapses to the uniform
#   distribution (entropy 5.53 of log K = 5.55 at epoch 50, k-NN top-1
#   35.1% after 100 epochs, seed 0); 0.02 keeps it below (see below);
# - crops: 2 global 32 px, scale (0.4, 1) as official; 4 local 16 px (a
#   2x2 token grid), scale (0.15, 0.4) instead of (0.05, 0.4), so that a
#   local crop still covers ~3x3 pixels of the original 8x8 digit; no
#   flips (they change digits, as in the supervised digits configs);
#   Gaussian-blur radii scaled by 32 / 224 (0.1-2 px at 224 px: a 2 px blur
#   smears a 32 px digit into a blob) and no solarisation (it turns a
#   white-on-black digit into noise); colour jitter and grayscale as
#   official (hue and saturation are no-ops on grey images);
# - 50 epochs of 22 steps (1.1k steps, ~4 CPU minutes on an idle 2-core
#   machine; official: 100 epochs and more); lr 1e-3 for batch 64 (the
#   official rule gives 2.5e-4), 5 warm-up epochs, cosine to 1e-6; teacher
#   momentum 0.996 -> 1, weight decay 0.04 -> 0.4, clipping 3.0 and the
#   frozen last layer of epoch 0 as official.
#
# Measured with tools/analysis/pretrain_vs_random.py (seeds 0 / 1; the
# same backbone at random init with the same seed): weighted k-NN top-1
# (knn-deit-4l64d-p8_1xb128_digits.py, k 20) of the exported teacher 49.3 /
# 50.7 vs 31.2 / 29.3; linear probe (linear-deit-4l64d-p8_1xb64_digits.py)
# 58.2 / 58.8 vs 36.5 / 29.8; raw-pixel k-NN 97.2. 100 epochs (10 warm-up)
# reach k-NN 71.9 / 78.0 and linear 76.9 (seed 0). Teacher entropy 1.2-4.7
# nats during training (3.9 / 4.4 at the end) of log K = 5.55, 20-77
# prototypes the arg-max of some crop per batch: neither collapse. What
# did not learn (k-NN at or below random init, 8 variants measured): 4x4
# patches (one token per flat pixel of the 8x8 digit: the random DeiT sees
# a bag of intensities and DINO does not get past it) and 8-epoch runs
# (176 steps).
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the multi-crop views of each image (the digits base's data_preprocessor
# is the classifiers')
selfsup_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    # pixel statistics of the bundled training images (grey digits)
    mean=[77.9, 77.9, 77.9],
    std=[95.9, 95.9, 95.9],
    to_rgb=True)

_color = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
]
# Gaussian blur, radius drawn uniformly in [0.1, 2] x 32 / 224 px for each
# image (the official radii scaled from 224 px to 32 px)
_blur = dict(
    type='GaussianBlur',
    magnitude_range=(0.1 * 32 / 224, 2.0 * 32 / 224),
    magnitude_std='inf')
_global_crop = dict(
    type='RandomResizedCrop',
    scale=32,
    crop_ratio_range=(0.4, 1.0),
    interpolation='bicubic',
    backend='pillow')
_local_crop = dict(
    type='RandomResizedCrop',
    scale=16,
    crop_ratio_range=(0.15, 0.4),
    interpolation='bicubic',
    backend='pillow')
global_pipeline1 = [_global_crop, *_color, dict(_blur, prob=1.0)]
global_pipeline2 = [
    _global_crop, *_color,
    dict(_blur, prob=0.1),
]
local_pipeline = [_local_crop, *_color, dict(_blur, prob=0.5)]
num_local_crops = 4

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1, num_local_crops],
        transforms=[global_pipeline1, global_pipeline2, local_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=train_pipeline))

out_channels = 256
model = dict(
    type='mmvitplug.DINO',
    data_preprocessor=selfsup_preprocessor,
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        out_type='cls_token',
        drop_path_rate=0.1),
    head=dict(
        type='mmvitplug.DINOHead',
        in_channels=64,
        out_channels=out_channels,
        hid_channels=256,
        bottleneck_channels=64,
        num_layers=3,
        use_bn=True,
        norm_last_layer=True),
    loss=dict(
        type='mmvitplug.DINOLoss',
        out_channels=out_channels,
        student_temp=0.1,
        teacher_temp=0.02,
        center_momentum=0.9),
    momentum=0.004,
    end_momentum=0.)

max_epochs = 50
warmup_epochs = 5
optim_wrapper = dict(
    type='mmvitplug.ClipOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.04, betas=(0.9, 0.999),
        eps=1e-8),
    clip_grad=dict(type='param_norm', max_norm=3.0),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingParamScheduler',
        param_name='weight_decay',
        eta_min_ratio=10.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
custom_hooks = [
    dict(
        type='mmvitplug.DINOTeacherTempWarmupHook',
        warmup_temp=0.02,
        temp=0.02,
        warmup_epochs=0),
    dict(type='mmvitplug.DINOFreezeLastLayerHook', epochs=1),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

default_hooks = dict(
    logger=dict(interval=22),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
