# Fine-tuning of the TinyMIM-pre-trained ViT-B/16 on ImageNet-1k (85.0
# top-1 in the official README): the backbone exported from
# tinymim-deit-base_32xb128-300e_in1k.py (tools/model_converters/
# export_backbone.py CONFIG CKPT backbone.pth), or an official TinyMIM
# checkpoint (timm layout under 'model', converted on load).
# Source: official OliverRensu/TinyMIM README fine-tuning command
# (main_finetune.py, MAE's fine-tuning recipe).
#
# Every number: 8 GPUs x 128, 100 epochs, AdamW lr 5e-4 x batch / 256
# (2e-3 for 1024), weight decay 0.05 except on 1-D parameters, class token
# and position embedding, layer-wise lr decay 0.65, 5 warm-up epochs, cosine
# to 1e-6 per iteration, drop path 0.2, label smoothing 0.1, RandAugment
# rand-m9-mstd0.5-inc1, random erasing 0.25 (pixel), Mixup 0.8 / CutMix 1.0
# (switch 0.5), no repeated augmentation, head initialised N(0, 2e-5).
# Not identical: the features are the mean of the normalised patch tokens
# (out_type 'avg_featmap'; official global_pool: a LayerNorm of the mean of
# the patch tokens); the warm-up starts at 1e-3 x the peak lr (official: 0).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

pretrained = 'work_dirs/tinymim-deit-base_32xb128-300e_in1k/backbone.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-base',
        drop_path_rate=0.2,
        out_type='avg_featmap',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5,
                      bias=0.)),
)
# MAE's fine-tuning does not repeat augmentations
train_dataloader = dict(
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

max_epochs = 100
warmup_epochs = 5
optim_wrapper = dict(
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=5e-4 * 1024 / 256, weight_decay=0.05,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(layer_decay_rate=0.65, flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
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
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
