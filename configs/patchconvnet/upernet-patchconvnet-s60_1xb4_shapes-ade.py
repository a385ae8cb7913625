# UperNet with a small PatchConvNet column and mmvitplug.SimpleFPN on the
# bundled shapes (ADE20K layout, 128x128 images, background + 3 classes):
# trains from scratch on CPU through tools/train.py and evaluates mIoU at
# the end. Same recipe as upernet-patchconvnet-s60_8xb2_ade20k.py (ViTDet
# pyramid from the stride-16 map, UPerHead + FCN auxiliary head, AdamW with
# layer-wise lr decay), scaled down: 64 channels, 4 blocks, patch-16 stem;
# BatchNorm heads (single process).
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py',
    '../_base_/datasets/shapes-ade.py',
    '../_base_/schedules/shapes_adamw.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

crop_size = (128, 128)
embed_dims = 64
head_norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.PatchConvNet',
        arch=dict(embed_dims=embed_dims, num_layers=4, init_values=0.1),
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=embed_dims,
        num_outs=4,
        norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    decode_head=dict(
        in_channels=[embed_dims] * 4,
        channels=64,
        num_classes=4,
        norm_cfg=head_norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims,
        in_index=2,
        channels=32,
        num_classes=4,
        norm_cfg=head_norm_cfg))

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
        eta_min=1e-5,
        power=1.0,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters))
