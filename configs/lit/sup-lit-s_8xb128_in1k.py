# LIT-S trained on ImageNet-1k at 224 (https://arxiv.org/abs/2105.14217;
# 81.5 top-1, 27M parameters in the official README). Recipe of the
# official classification/code_for_lit_s_m_b/configs/lit-small.yaml with
# the defaults of its config.py (ziplab/LIT 742e961, Swin's training code),
# run on 8 GPUs x 128 images as the README's total batch of 1024: AdamW, lr
# 5e-4 x total batch / 512 (main.py's linear scaling; auto_scale_lr does
# it here: 1e-3 for 8 x 128), weight decay 0.05 except on 1-D parameters,
# biases and the relative-position tables, the deformable offsets' weights
# (conv_offset) at lr x 0.01 (OFFSET_LR_MULTI), 20 linear warm-up epochs
# from 5e-7 x batch / 512, cosine to 5e-6 x batch / 512 (1e-5 at 8 x 128;
# mmengine's eta_min is not rescaled), gradient-norm clipping 5.0, 300
# epochs, stochastic depth 0.2 (linear over the blocks); data: Swin's timm
# pipeline (RandomResizedCrop 224 bicubic, flip, rand-m9-mstd0.5-inc1,
# random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1)
# without repeated augmentation, evaluation resize 256 then centre crop 224
# (TEST.CROP). The official run uses AMP: add --amp on GPUs.
# Source: official lit-small.yaml and config.py / main.py / optimizer.py
# defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/swin_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.LIT', arch='lit-s', drop_path_rate=0.2),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'conv_offset.weight': dict(lr_mult=0.01)}))
