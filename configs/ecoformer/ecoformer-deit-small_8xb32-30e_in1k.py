# EcoFormer (Liu et al., NeurIPS 2022, https://arxiv.org/abs/2209.09004)
# on DeiT-S: the official recipe is for PVTv2-B0..B4 (ziplab/EcoFormer
# pvt/scripts/train_ecoformer.sh, pvt/configs/pvt_v2/*_ecoformer.py, params.py
# defaults), which mmvitplug does not have; this config applies it to the
# plain ViT the plugin has. The official recipe fine-tunes a trained
# softmax-attention model: the official DeiT-S checkpoint here (its qkv
# rows of q load into the shared q = k projection, those of v into the
# value projection, k dropped, as the official fine-tuning loads its MSA
# PVTv2), every block's attention replaced by EcoFormer's (16-bit codes,
# 25 anchors, top / bottom 10 similarity targets), hash functions fit on
# the first batch (refit every 300 epochs: once). Schedule: 30 epochs,
# 8 GPUs x 32 images, AdamW lr 5e-5 x total batch / 512 (2.5e-5), weight
# decay 0.05, 5 warm-up epochs from 1e-7, cosine to 1e-6, drop path 0.1,
# the DeiT data pipeline (RandAugment, random erasing 0.25, repeated
# augmentation, Mixup 0.8 / CutMix 1.0, label smoothing 0.1), AMP.
# Unlike PVTv2-EcoFormer, DeiT has no low-resolution last stage to keep
# as softmax attention: every block is converted.
# Source: official train_ecoformer.sh, pvt_v2_b*_ecoformer.py, params.py.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

pretrained = \
    'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.EcoFormer',
        backbone=dict(
            type='mmvitplug.DeiT',
            arch='deit-small',
            drop_path_rate=0.1,
            init_cfg=dict(
                type='Pretrained', checkpoint=pretrained,
                prefix='backbone.')),
        nbits=16,
        num_anchors=25,
        topk=10),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(
            type='mmvitplug.Pretrained', checkpoint=pretrained,
            prefix='head.', converter='DeiT')),
)

train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=5e-5, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
    clip_grad=None)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-7 / 5e-5,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=30,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512, enable=True)
custom_hooks = [dict(type='mmvitplug.EcoFormerHook', interval=300)]
