# UP-ReID (Yang et al., CVPR 2022, https://arxiv.org/abs/2112.00317)
# contrastive pre-training with intra-identity regularisation of a plugin
# ViT, DeiT-S/16 at the ReID input size 256 x 128 (a 16 x 8 patch map), on
# the unlabelled training images of Market-1501 (the standard layout:
# data/market1501/bounding_box_train/*.jpg; the dataset is not shipped).
# No official code exists; mmvitplug.UPReID re-implements the method from
# the paper (what was inferred: mmvitplug.models.losses.UPReIDLoss).
# Source: the paper's abstract (MoCo v2-style contrastive pipeline, global
# consistency with the original image, intrinsic local contrast) + the MoCo
# v2 recipe of mmpretrain 1.2.0 (configs/mocov2/mocov2_resnet50_8xb32-
# coslr-200e_in1k.py: SGD lr 0.03 for batch 256, momentum 0.9, wd 1e-4,
# cosine, 200 epochs, queue 65536, momentum 0.999, temperature 0.2).
# UNVERIFIED (not in any text available here): the paper pre-trains a
# ResNet-50 on LUPerson (4M images) rather than Market-1501; its views,
# stripe count, loss weights, batch size and schedule. Here: 8 GPUs x 64,
# lr 0.06 (MoCo v2's 0.03 x 512 / 256), 6 stripes of the 16-row map (the
# PCB part count), loss weights 1, MoCo v2 augmentations at 256 x 128 with
# a crop scale of 0.2-1. Evaluate by fine-tuning or ReID retrieval
# (camera-aware Market protocol: not shipped here).
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

data_root = 'data/market1501/'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# mmcv's Resize takes (w, h)
original_pipeline = [dict(type='Resize', scale=(128, 256), backend='pillow')]
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=(256, 128),  # (h, w)
        crop_ratio_range=(0.2, 1.),
        aspect_ratio_range=(0.375, 0.75),  # person boxes around w / h 0.5
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    # a horizontal flip keeps the horizontal stripes in place
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='bounding_box_train',
        with_label=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            # [original, augmented, augmented]
            dict(
                type='MultiView',
                num_views=[1, 2],
                transforms=[original_pipeline, view_pipeline]),
            dict(type='PackInputs'),
        ]))

model = dict(
    type='mmvitplug.UPReID',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-small',
        img_size=(256, 128),
        patch_size=16,
        out_type='featmap'),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=384,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=False),
    loss=dict(
        type='mmvitplug.UPReIDLoss',
        temperature=0.2,
        local_temperature=0.2,
        queue_len=65536,
        feat_dim=128,
        gc_weight=1.0,
        lc_weight=1.0),
    num_stripes=6,
    momentum=0.001,
    data_preprocessor=data_preprocessor)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0,
         end=200)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
