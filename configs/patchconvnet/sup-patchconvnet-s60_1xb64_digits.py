# PatchConvNet on the bundled digits (32x32): a narrow, shallow column
# (64 channels, 4 blocks, LayerScale init 0.1 to learn fast from scratch)
# with a patch-4 convolutional stem (two stride-2 3x3 convolutions, 32 then
# 64 channels) so the 8x8 digit keeps one feature per original pixel, and
# the attention-based aggregation (one class token) instead of average
# pooling. Generate the data first:
# python tools/make_bundled_data.py
_base_ = [
    '../_base_/datasets/digits.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch=dict(embed_dims=64, num_layers=4, init_values=0.1),
        patch_size=4,
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=2e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.gamma_': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=15, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
