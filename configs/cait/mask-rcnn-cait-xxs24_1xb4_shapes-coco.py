# Mask R-CNN with a small CaiT (talking heads + LayerScale) and
# mmvitplug.SimpleFPN on the bundled shapes (COCO format, 128x128 images,
# 3 classes): trains from scratch on CPU through tools/train.py and
# evaluates box and mask mAP at the end. Same recipe as
# mask-rcnn-cait-xxs24_8xb2_coco.py (ViTDet pyramid from the last block,
# LayerNorm heads, AdamW with layer-wise lr decay), scaled down.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes-coco.py',
    '../_base_/schedules/shapes_adamw.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

embed_dims = 96
channels = 64
norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=128,
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        backbone_channel=embed_dims,
        out_channels=channels,
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        num_convs=2,
        # shapes are 13-70 px: anchors of 16..256 px on strides 4..64
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=256,
            norm_cfg=norm_cfg,
            num_classes=3),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2,
            in_channels=channels,
            conv_out_channels=channels,
            norm_cfg=norm_cfg,
            num_classes=3)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=20)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader

max_epochs = 8
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs,
    val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-5,
        begin=0,
        end=max_epochs,
        by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs))
auto_scale_lr = dict(enable=False, base_batch_size=4)
