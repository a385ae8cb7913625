# InternImage-T trained on ImageNet-1k at 224 from scratch
# (https://arxiv.org/abs/2211.05778; 83.5 top-1, 30M parameters in the
# official README). Recipe of the official
# classification/configs/internimage_t_1k_224.yaml with the defaults of its
# config.py (OpenGVLab/InternImage 31c962d, Swin's training code), run as its
# README does for 8 GPUs (GPUS=8 ... --batch-size 512: 8 x 512 images, a
# total batch of 4096): AdamW (eps 1e-8, betas 0.9 / 0.999), lr 5e-4 x total
# batch / 512 (main.py's linear scaling; auto_scale_lr does it here: 4e-3
# for 8 x 512), weight decay 0.05 except on 1-D parameters and biases
# (optimizer.py), 20 linear warm-up epochs from 5e-7 x batch / 512, cosine to
# 5e-6 x batch / 512 (4e-5 at 8 x 512, set below: mmengine's eta_min is not
# rescaled; the cosine here spans the epochs after the warm-up, timm's
# spans all 300), gradient-norm clipping 5.0, 300 epochs, stochastic depth
# 0.1 (linear over the blocks), no layer-wise lr decay; model EMA with decay
# 0.9999 every step (TRAIN.EMA; mmengine's EMAHook, momentum = 1 - decay,
# buffers averaged as timm's ModelEma): the EMA weights are validated and
# saved (the official code validates both the model and its EMA); data:
# Swin's timm pipeline (RandomResizedCrop 224 bicubic, flip,
# rand-m9-mstd0.5-inc1, which turns colour jitter off, random erasing 0.25
# per pixel, Mixup 0.8 / CutMix 1.0, label smoothing 0.1), no repeated
# augmentation, evaluation resize 224 then centre crop 224 (TEST.CROP with
# the crop ratio 1.0 of build.py). Model: the official classifier,
# conv_head (1x1 conv to 1.5x the last level's 512 channels, BN, GELU),
# mean pooling and fc (mmvitplug.InternImageClsHead). The official run uses
# fp16 AMP (main.py's --amp-opt-level defaults to O1): add --amp on GPUs.
# Source: official classification/configs/internimage_t_1k_224.yaml,
# config.py, main.py, optimizer.py, dataset/build.py and README.md (8 GPUs
# x 512).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/swin_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.InternImage',
        arch='internimage-t',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.InternImageClsHead',
        num_classes=1000,
        in_channels=512,
        cls_scale=1.5,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
)

img_size = 224
# 8 GPUs x 512 images, no repeated augmentation (the base's
# RepeatAugSampler replaced, its num_repeats dropped)
train_dataloader = dict(
    batch_size=512,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
# TEST.CROP: resize the short edge to int(1.0 * 224), centre crop 224
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'ResizeEdge' else t
        for t in _base_.test_pipeline
    ]))
test_dataloader = val_dataloader

# no weight decay on 1-D parameters (norms, biases, layer scales)
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, flat_decay_mult=0.0))
# MIN_LR 5e-6 x 4096 / 512
min_lr = 4e-5
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], eta_min=min_lr),
]
# timm's ModelEma (decay 0.9999 every step, parameters and buffers)
custom_hooks = [
    dict(
        type='EMAHook',
        momentum=1e-4,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
auto_scale_lr = dict(base_batch_size=512, enable=True)
