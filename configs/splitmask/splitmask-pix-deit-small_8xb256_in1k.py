# SplitMask pre-training (El-Nouby et al. 2021, "Are large-scale datasets
# necessary for self-supervised pre-training?", arXiv 2112.10740) of a
# ViT-S/16 (DeiT-S arch) on ImageNet-1k, normalised-pixel target.
# Source: the paper (method: split / inpaint with a 2-layer decoder / match
# with InfoNCE; ViT-S and ViT-B encoders) for the structure; no official code
# exists, and the optimisation numbers below are BEiT's ImageNet recipe
# (Bao et al. 2021, as in mmpretrain's
# beit_beit-base-p16_8xb256-amp-coslr-300e_in1k.py: AdamW lr 1.5e-3 at
# batch 2048, betas (0.9, 0.999), weight decay 0.05, gradient clipping 3.0,
# 10 warm-up epochs from lr x 1e-4, cosine to 1e-5, 300 epochs, drop path
# 0.1, LayerScale 0.1; RandomResizedCrop 224 (0.08-1, bicubic), flip,
# ColorJitter 0.4), which the paper builds on: UNVERIFIED against the
# paper's tables. Not the paper's: the target (its DALL-E tokens cannot be
# downloaded), the 50/50 uniform split, the decoder width, the InfoNCE
# temperature 0.1 (inferred; see mmvitplug.SplitMask's docstring).
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/imagenet'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
        hue=0.),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0),
        backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

model = dict(
    type='mmvitplug.SplitMask',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        layer_scale_init_value=0.1,
        out_type='avg_featmap'),
    head=dict(
        type='mmvitplug.SplitMaskHead', embed_dims=256, num_layers=2,
        num_heads=8),
    target_generator=dict(
        type='mmvitplug.SplitMaskPixelTarget', patch_size=16, norm_pix=True),
    loss=dict(type='mmvitplug.SplitMaskLoss', temperature=0.1),
    split_ratio=0.5,
    data_preprocessor=data_preprocessor)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.5e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
            '.mask_token': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10,
        end=300, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=10, max_keep_ckpts=3, save_best=None))
# BEiT's lr 1.5e-3 is for a total batch of 2048 (8 GPUs x 256)
auto_scale_lr = dict(base_batch_size=2048)
