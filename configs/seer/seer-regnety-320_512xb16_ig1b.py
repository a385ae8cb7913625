# SEER (Goyal et al. 2021, https://arxiv.org/abs/2103.01988): SwAV
# pretraining of RegNetY-32GF (SEER RG-32GF) on 1B random, uncurated
# Instagram images, 1 epoch, 512 GPUs x 16 images.
# Source: vissl projects/SEER/MODEL_DOCUMENTATION.md ("Bounded
# Hyperparameters") + the vissl SwAV configs (facebookresearch/vissl@09270ed2:
# configs/config/pretrain/swav/swav_8node_resnet.yaml, heads/
# d10444_d8192_d8192_d256_proto16k.yaml, transforms/multicrop_2x224_4x96.yaml)
# + the names of the released SEER checkpoints (projects/SEER/README.md:
# ..._sinkhorn10_proto16k_apex_syncBN64_warmup8k).
#
# NOT REPRODUCIBLE AS IS: the IG-1B images are private. `data_root` points at
# a folder of unlabelled images (mmpretrain CustomDataset, no labels); the
# schedule is 1 epoch of 1B images (122,070 iterations of 8192): for another
# data set keep the iteration count or rescale it (and the number of
# prototypes, as the SEER README advises).
#
# Every number and where it comes from:
# - trunk RegNetY-32GF (mmvitplug.RegNetY 'regnety-320' = ClassyVision
#   regnet_y_32gf, 141.3M parameters), SyncBN (MODEL_DOCUMENTATION;
#   "syncBN64" = groups of 64 GPUs in the checkpoint names: here global,
#   mmengine has no grouped SyncBN);
# - head: 3-layer MLP 3712 -> 8192 -> 8192 -> 256 without BN, L2 norm
#   (heads/d10444_d8192_d8192_d256_proto16k.yaml gives these widths for the
#   256GF trunk: the same hidden widths for the 32GF one are inferred);
#   16000 prototypes ("proto16k"); the prototypes are frozen for the first
#   313 iterations (swav_8node_resnet.yaml; SEER's value is not published);
# - loss: temperature 0.1, epsilon 0.05, codes of crops 0 and 1
#   (swav_8node_resnet.yaml), 10 Sinkhorn iterations ("sinkhorn10"), no
#   queue (queue_length 0 in the vissl config; batch 8192 > 16000 / 2);
# - crops 2 x 224 (scale 0.14-1) + 4 x 96 (0.05-0.14), flip 0.5, colour
#   distortion strength 1 (jitter 0.8 / 0.8 / 0.8 / 0.2 with p 0.8, grey
#   p 0.2), Gaussian blur p 0.5 radius 0.1-2 (multicrop_2x224_4x96.yaml;
#   MODEL_DOCUMENTATION's "4x196" is read as 4x96);
# - batch 8192 = 512 x 16; SGD + LARC (trust coefficient 0.001, no clip),
#   momentum 0.9, weight decay 1e-5 on every parameter (regularize_bn and
#   _bias True); lr 0.3 per 256 images = 9.6, linear warm-up over 8000
#   iterations ("warmup8k") from 0.3 (the vissl composite schedule's start),
#   then cosine to 0.0096 (lr / 1000 as the vissl SwAV schedule; SEER's end
#   value is not published); 1 epoch; mixed precision (Apex O1: run
#   `tools/train.py --amp`; the loss stays float32).
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

color_distort_strength = 1.0
_distort = [
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.8 * color_distort_strength,
                contrast=0.8 * color_distort_strength,
                saturation=0.8 * color_distort_strength,
                hue=0.2 * color_distort_strength)
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
]
global_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.14, 1.),
        backend='pillow'), *_distort
]
local_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=96,
        crop_ratio_range=(0.05, 0.14),
        backend='pillow'), *_distort
]
num_crops = [2, 4]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=num_crops,
        transforms=[global_pipeline, local_pipeline]),
    dict(type='PackInputs'),
]
batch_size = 16
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root='data/ig1b/',
        with_label=False,
        pipeline=train_pipeline))

feat_dim = 256
model = dict(
    type='mmvitplug.SEER',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmvitplug.RegNetY',
        arch='regnety-320',
        norm_cfg=dict(type='SyncBN'),
        out_type='featmap'),
    neck=dict(
        type='mmvitplug.SEERNeck',
        in_channels=3712,
        hid_channels=8192,
        out_channels=feat_dim,
        num_layers=3),
    head=dict(
        type='SwAVHead',
        loss=dict(
            type='mmvitplug.SEERLoss',
            feat_dim=feat_dim,
            num_prototypes=16000,
            sinkhorn_iterations=10,
            epsilon=0.05,
            temperature=0.1,
            crops_for_assign=[0, 1],
            num_crops=num_crops)))

total_batch = 512 * batch_size
max_iters = 122070  # 1 epoch of 1e9 images at 8192
warmup_iters = 8000
base_lr = 0.3 * total_batch / 256  # 9.6
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS', lr=base_lr, momentum=0.9, weight_decay=1e-5,
        eta=0.001))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.3 / base_lr,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr / 1000,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters),
]
auto_scale_lr = dict(base_batch_size=total_batch)
# SwAVHook toggles requires_grad of the prototypes
find_unused_parameters = True
custom_hooks = [
    dict(
        type='SwAVHook',
        priority='VERY_HIGH',
        batch_size=batch_size,
        crops_for_assign=[0, 1],
        feat_dim=feat_dim,
        queue_length=0,
        frozen_layers_cfg=dict(prototypes=313))
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
