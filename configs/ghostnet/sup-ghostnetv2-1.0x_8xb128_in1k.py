# GhostNetV2 1.0x trained on ImageNet-1k at 224 (NeurIPS 2022,
# https://arxiv.org/abs/2211.12905; 75.3 top-1 at 167M FLOPs in the
# official README). The official command (ghostnetv2_pytorch/README.md:
# 8 GPUs x 128 = 1024 images; timm 0.3.2's train.py) with the defaults of
# its train.py / timm 0.3.2 for what it leaves:
# - optimizer --opt rmsproptf --opt-eps .001: TF-style RMSprop
#   (mmvitplug.RMSpropTF: eps inside the root, squared average from one,
#   lr in the momentum buffer) with timm's alpha 0.9 and momentum 0.9
#   (--momentum default), lr 0.064 for the total batch 1024 (scaled by
#   auto_scale_lr), --weight-decay 1e-5 except on 1-D parameters (timm's
#   add_weight_decay: biases, BN);
# - schedule --sched step --decay-epochs 2.4 --decay-rate .973 --epochs
#   450, --warmup-lr 1e-6 with --warmup-epochs 3 (default): timm's step
#   scheduler sets lr x 0.973 ** (epoch // 2.4) once per epoch, i.e. x 0.973
#   at epochs 3, 5, 8, 10, 12, 15, ...: an mmengine MultiStepLR by epoch
#   with exactly those milestones; the warm-up is linear from 1e-6
#   (timm steps it once per epoch: 1e-6, 0.021, 0.043 in epochs 0-2; here
#   per iteration over the 3 epochs: approximated). --lr-noise 0.42 0.9 (a
#   random lr factor in epochs 189-405) is not reproduced;
# - --model-ema --model-ema-decay 0.9999: mmengine's EMAHook (momentum =
#   1 - decay, every step, buffers averaged as timm's ModelEma); the EMA
#   weights are validated (train.py reports the EMA's metrics) and saved;
# - data: RandomResizedCrop 224 (scale 0.08-1, ratio 3/4-4/3), flip,
#   --aa rand-m9-mstd0.5 (timm's non-'inc' RandAugment ops, written out
#   below; colour jitter is off with AutoAugment), --reprob 0.2 --remode
#   pixel (random erasing, 1 box, per-pixel normal noise), no Mixup,
#   label smoothing 0.1 (--smoothing default), --drop 0.2 (dropout before
#   the classifier); train interpolation 'random' (bilinear or bicubic per
#   image) approximated by bicubic; evaluation: resize 256 (crop_pct
#   0.875, bicubic), centre crop 224;
# - --amp (apex O1): add --amp on GPUs.
# Model: the official classifier (GAP, 1x1 conv to 1280 + ReLU, dropout,
# fc: mmvitplug.GhostNetClsHead), PyTorch's default initialisation.
# Source: official ghostnetv2_pytorch/README.md command and train.py
# defaults (huawei-noah/Efficient-AI-Backbones f90e129), timm 0.3.2
# optimizer / scheduler / transform factories.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.GhostNet', arch='ghostnetv2-1.0x'),
    neck=None,
    head=dict(
        type='mmvitplug.GhostNetClsHead',
        num_classes=1000,
        in_channels=960,
        dropout_rate=0.2,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=None,  # PyTorch's default init, as the official model
    ),
)

# no Mixup / CutMix
data_preprocessor = dict(batch_augments=None)
bgr_mean = _base_.data_preprocessor['mean'][::-1]
bgr_std = _base_.data_preprocessor['std'][::-1]
# timm's 'rand' ops (_RAND_TRANSFORMS, not the '-inc1' ones of DeiT): the
# enhancements take factors 0.1 + 1.8 x level / 10 (no random sign),
# posterize keeps int(4 x level / 10) bits (mmpretrain rounds the bits up:
# hence the range shifted by one), solarize thresholds at 256 x level / 10
rand_policies = [
    dict(type='AutoContrast'),
    dict(type='Equalize'),
    dict(type='Invert'),
    dict(type='Rotate', magnitude_range=(0, 30)),
    dict(type='Posterize', magnitude_range=(-1, 3)),
    dict(type='Solarize', magnitude_range=(0, 256)),
    dict(type='SolarizeAdd', magnitude_range=(0, 110)),
    dict(
        type='ColorTransform',
        magnitude_range=(-0.9, 0.9),
        random_negative_prob=0.),
    dict(type='Contrast', magnitude_range=(-0.9, 0.9),
         random_negative_prob=0.),
    dict(
        type='Brightness', magnitude_range=(-0.9, 0.9),
        random_negative_prob=0.),
    dict(
        type='Sharpness', magnitude_range=(-0.9, 0.9),
        random_negative_prob=0.),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    dict(type='Translate', magnitude_range=(0, 0.45),
         direction='horizontal'),
    dict(type='Translate', magnitude_range=(0, 0.45), direction='vertical'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies=rand_policies,
        num_policies=2,
        total_level=10,
        magnitude_level=9,  # 'm9'
        magnitude_std=0.5,  # 'mstd0.5'
        hparams=dict(
            pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.2,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
# 8 GPUs x 128 images
train_dataloader = dict(
    batch_size=128,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

lr = 0.064  # for a total batch of 1024, scaled by auto_scale_lr
warmup_epochs = 3
epochs = 450
decay_epochs = 2.4
# timm's StepLRScheduler: lr x decay_rate ** (epoch // decay_epochs)
milestones = [
    e for e in range(1, epochs)
    if e // decay_epochs > (e - 1) // decay_epochs
]
optim_wrapper = dict(
    optimizer=dict(
        type='mmvitplug.RMSpropTF',
        lr=lr,
        alpha=0.9,
        eps=1e-3,
        momentum=0.9,
        weight_decay=1e-5),
    paramwise_cfg=dict(flat_decay_mult=0.0),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR',
        milestones=milestones,
        gamma=0.973,
        by_epoch=True,
        begin=0,
        end=epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)

# timm's ModelEma (decay 0.9999 every step, parameters and buffers)
custom_hooks = [
    dict(
        type='EMAHook',
        momentum=1e-4,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
