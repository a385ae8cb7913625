# MAE (https://arxiv.org/abs/2111.06377) pre-training on the bundled digits,
# without labels: the teacher of tinymim-deit-4l96d-p4_1xb64-30e_digits.py
# (_teachers/mae-vit-6l192d-p4_digits.py holds the same model). mmpretrain's
# MAE (MAEViT encoder, MAEPretrainDecoder, MAEPretrainHead) at digits scale:
# a 6-block ViT of 192 dims on 4x4 patches (one token per pixel of the 8x8
# digit upsampled 4x: 64 tokens, 16 seen after masking 75%), a 2-block
# decoder of 128 dims, pixel targets NOT normalised per patch (an aligned
# 4x4 patch is one grey level, so normalised targets would be ~0), crops of
# 35-100% of the image (MAE: 20-100% and flips; flips change digits).
# AdamW betas (0.9, 0.95), weight decay 0.05 except on 1-D parameters,
# tokens and position embedding (mmpretrain's MAE recipe), lr 1.5e-3,
# 10 warm-up epochs, cosine to 0.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/mae-vit-6l192d-p4_digits.py',
]

selfsup_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[77.9, 77.9, 77.9],
    std=[95.9, 95.9, 95.9],
    to_rgb=True)
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    collate_fn=dict(type='default_collate'),  # one stacked batch
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='RandomResizedCrop', scale=32,
            crop_ratio_range=(0.35, 1.)),
        dict(type='PackInputs'),
    ]))

model = dict(
    _base_.teacher,
    data_preprocessor=selfsup_preprocessor,
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

max_epochs = 100
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
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
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=50, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
