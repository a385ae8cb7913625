# LIT-Ti trained on ImageNet-1k at 224 (https://arxiv.org/abs/2105.14217;
# 81.1 top-1, 19M parameters in the official README). Recipe of the
# official classification/code_for_lit_ti (ziplab/LIT 742e961: DeiT's
# training code, config/lit-ti.json and params.py defaults), on 8 GPUs x 128
# images as the README's total batch of 1024: the DeiT recipe of
# ../_base_/schedules/deit_adamw_300e.py (AdamW, lr 5e-4 x total batch /
# 512 by auto_scale_lr, weight decay 0.05, 5 warm-up epochs from 1e-6,
# cosine to 1e-5, 300 epochs, no clipping) and
# ../_base_/datasets/imagenet_deit.py (RandAugment, random erasing 0.25,
# repeated augmentation, Mixup 0.8 / CutMix 1.0, label smoothing 0.1,
# evaluation resize 256 then centre crop 224), stochastic depth 0.1, and
# two LIT specifics: the deformable offsets' weights (conv_offset) at lr x
# 0.01 (dconv_lr_ratio), and weight decay on the position embeddings (the
# official no-decay set is the class token, biases and 1-D parameters).
# The class token joins at the last stage; the head reads it
# (out_type 'cls_token', the default of 'absolute' archs).
# Source: official lit-ti.json and params.py / main.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.LIT', arch='lit-ti', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.pos_embed': dict(decay_mult=1.0),
            'conv_offset.weight': dict(lr_mult=0.01),
        }))
