# UperNet on a small CaiT (talking heads + LayerScale) with
# mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 shapes): trains from scratch on CPU through tools/train.py
# and reports mIoU at the end. Same recipe as upernet-cait-xxs24_8xb2_ade20k.py
# (ViTDet pyramid, UPerHead + FCN auxiliary head, AdamW with layer-wise lr
# decay), scaled down. The position embedding is interpolated to any input
# grid, so whole test images go through the model.
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
num_classes = 4
norm_cfg = dict(type='BN', requires_grad=True)  # single process: no SyncBN

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size, test_cfg=dict(
        size_divisor=16)),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=crop_size,
        patch_size=16,
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=channels,
        num_outs=4,
        norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    decode_head=dict(
        in_channels=[channels] * 4,
        channels=channels,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=channels,
        in_index=2,
        channels=channels,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader

max_iters = 1000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters))
