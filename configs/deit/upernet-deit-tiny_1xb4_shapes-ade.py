# UperNet with a small plain DeiT and mmvitplug.SimpleFPN on the bundled
# shapes (ADE20K layout, 128x128 images, background + 3 classes): trains
# from scratch on CPU in about 1.5 CPU minutes through tools/train.py and
# evaluates mIoU at the end (about 90%). Same recipe as
# upernet-deit-small_8xb2_ade20k.py (ViTDet pyramid into UPerHead + FCN
# auxiliary head, AdamW with layer-wise lr decay), scaled down: 4-block
# DeiT, 64-channel pyramid and heads, a higher lr and a mild decay (0.9) as
# nothing is pretrained, BN instead of SyncBN in the heads.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py',
    '../_base_/datasets/shapes-ade.py',
    '../_base_/schedules/shapes_adamw.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

crop_size = (128, 128)
embed_dims = 96
channels = 64
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        img_size=crop_size,
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        out_channels=channels,
        num_outs=4,
        norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    decode_head=dict(
        in_channels=[channels] * 4,
        channels=channels,
        num_classes=4,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=channels,
        in_index=2,
        channels=32,
        num_classes=4,
        norm_cfg=norm_cfg))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader

max_iters = 500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(
        type='PolyLR',
        eta_min=0.,
        power=1.0,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# fixed seed: the demo (and tests/test_e2e_dense.py) are reproducible
randomness = dict(seed=0)
