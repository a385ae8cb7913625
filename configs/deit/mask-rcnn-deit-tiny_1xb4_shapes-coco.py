# Mask R-CNN with a small plain DeiT and mmvitplug.SimpleFPN on the bundled
# shapes (COCO format, 128x128 images, 3 classes): trains from scratch on CPU
# in about 2 CPU minutes through tools/train.py and evaluates box and mask
# mAP at the end (about 0.75 both). Same recipe as
# mask-rcnn-deit-small_8xb2_coco.py (ViTDet pyramid from the last block,
# LayerNorm in neck and mask head, AdamW with layer-wise lr decay), scaled
# down: 4-block DeiT, 64-channel pyramid, the light 2-fc box head of
# mmdet's Mask R-CNN, a higher lr and a mild decay (0.9) as nothing is
# pretrained.
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
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
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
        # shapes are 13-70 px: anchors of 16..256 px on strides 4..64
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2,
            in_channels=channels,
            conv_out_channels=32,
            norm_cfg=norm_cfg,
            num_classes=3)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=20)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader

max_epochs = 6
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
auto_scale_lr = dict(base_batch_size=4)
# fixed seed: the demo (and tests/test_e2e_dense.py) are reproducible
randomness = dict(seed=0)
