# SEER (https://arxiv.org/abs/2103.01988: SwAV on a RegNetY) self-supervised
# pretraining on the bundled digits (32x32 grey digits, ~1.4k training
# images, labels unused): a tiny RegNetY (stages of 16 / 32 / 64 / 128
# channels, 1 / 1 / 2 / 1 blocks, SE, group width 8) with the SEER recipe of
# configs/seer/seer-regnety-320_512xb16_ig1b.py scaled down to the data.
# Source: bundled-data smoke config, not a paper recipe.
#
# Kept from SEER: the 3-layer projection without BN (mmvitplug.SEERNeck),
# 10 Sinkhorn iterations, epsilon 0.05, temperature 0.1, codes of the 2
# global crops predicted from the 5 other crops, the SwAV colour
# distortion (jitter 0.8 / 0.8 / 0.8 / 0.2 with p 0.8, grey p 0.2, blur p
# 0.5), LARS (trust 0.001, momentum 0.9, weight decay 1e-5), lr 0.3 per 256
# images with a linear warm-up and a cosine to lr / 1000, prototypes frozen
# for the first epoch.
# Changed for the data, and why:
# - 30 prototypes instead of 16000 (<= the batch of 64, ~3 per digit
#   class): with fewer samples than prototypes the equipartition of the
#   codes is degenerate;
# - a queue of 640 embeddings (10 batches), from epoch 4, as mmpretrain's
#   SwAV config (3840 = 15 batches of 256, from epoch 15): more samples per
#   Sinkhorn-Knopp than the batch;
# - crops: 2 global 32 px, scale (0.4, 1); 4 local 16 px, scale (0.15, 0.4)
#   (SEER: 2x224 at (0.14, 1) + 4x96 at (0.05, 0.14)), so that a local crop
#   still covers ~3x3 pixels of the original 8x8 digit; no flips (they change
#   digits, as in the supervised digits configs);
# - projection 128 -> 256 -> 256 -> 64 (SEER: C -> 8192 -> 8192 -> 256);
# - the blocks' last BN scales start at 1, not 0 (zero_init_last_bn=False):
#   at 32 px the last stage sees a 2x2 map, of which its strided 1x1
#   shortcut keeps the top-left pixel (background on every digit), so with
#   zero-initialised residual branches the embedding starts constant over
#   the images (k-NN 10.0% at init, measured) and training stayed there
#   (loss log 30, k-NN 10.0%, seed 0);
# - 15 epochs of ~22 iterations (~6 CPU minutes on an idle 2-core
#   machine), 1 warm-up epoch; BN instead of SyncBN (CPU training converts
#   SyncBN anyway).
#
# Measured: this recipe does NOT beat random init on the digits (weighted
# k-NN top-1, k 10, knn-regnety-5l16d-p4_1xb128_digits.py: 58.8 / 55.2 vs
# 79.1 / 68.2 at random init, seeds 0 / 1; a random conv net is already a
# strong k-NN feature here). Variants tried (seed 0, 60 epochs, blur
# radii scaled to 32 px as in the DINO digits config): as here 64.1; with
# BatchNorm in the projection; with 100 prototypes and 32-dim embeddings
# (K > d, so that no embedding is orthogonal to every prototype); with
# DINO's milder views (jitter 0.4 on brightness / contrast only); AdamW
# lr 1e-3 instead of LARS; Sinkhorn epsilon 0.02; the queue from epoch 0.
# In every one the SwAV loss settles at ln K within 5-15 epochs with
# uniform codes (code_entropy -> ln K), although at init the embeddings
# differ (mean pairwise cosine 0.64, scores spread by 0.07 over the
# images, i.e. 1.4 / epsilon): training collapses them to a point the
# prototypes cannot tell apart. mmpretrain's own SwAVLoss (one process:
# the same first loss, 4.199) and 2 global crops without local ones
# collapse the same way: not this loss, not the local crops; so do 300
# prototypes with a 1280-embedding queue from epoch 2, and SwAV on the
# DINO digits DeiT (p8, AdamW) instead of the RegNetY; so do prototypes
# frozen for 10 epochs instead of 1 (Caron's advice for a loss stuck at
# ln K, facebookresearch/swav#62: the codes turn uniform while they are
# still frozen; k-NN 64.1, seed 0). mmpretrain's whole SwAV (its algorithm,
# BN projection, head, loss with 3 Sinkhorn iterations and hook) on this
# trunk, crops and schedule collapses the same way: loss 3.406 = ln 30
# after 30 epochs, k-NN 63.5 / 66.9 vs 79.1 / 68.2 at random init (seeds
# 0 / 1). The collapse is SwAV's at this scale (1.4k images, 22 steps an
# epoch), not this port's; DINO (a momentum teacher, centring) learns on
# the same data and DeepCluster on the same trunk (92.2 / 92.2, see
# ../deepcluster/).
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

selfsup_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    # pixel statistics of the bundled training images (grey digits)
    mean=[77.9, 77.9, 77.9],
    std=[95.9, 95.9, 95.9],
    to_rgb=True)

color_distort_strength = 1.0
_distort = [
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
        scale=32,
        crop_ratio_range=(0.4, 1.0),
        backend='pillow'), *_distort
]
local_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=16,
        crop_ratio_range=(0.15, 0.4),
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
batch_size = 64
train_dataloader = dict(
    batch_size=batch_size,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=train_pipeline))

feat_dim = 64
model = dict(
    type='mmvitplug.SEER',
    data_preprocessor=selfsup_preprocessor,
    backbone=dict(
        type='mmvitplug.RegNetY',
        arch=dict(w0=16, wa=24, wm=2.0, depth=5, group_width=8),
        out_type='featmap',
        zero_init_last_bn=False),
    neck=dict(
        type='mmvitplug.SEERNeck',
        in_channels=128,
        hid_channels=256,
        out_channels=feat_dim,
        num_layers=3),
    head=dict(
        type='SwAVHead',
        loss=dict(
            type='mmvitplug.SEERLoss',
            feat_dim=feat_dim,
            num_prototypes=30,
            sinkhorn_iterations=10,
            epsilon=0.05,
            temperature=0.1,
            crops_for_assign=[0, 1],
            num_crops=num_crops)))

max_epochs = 15
warmup_epochs = 1
base_lr = 0.3 * batch_size / 256
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS', lr=base_lr, momentum=0.9, weight_decay=1e-5,
        eta=0.001))
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
        eta_min=base_lr / 1000,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=batch_size)
# SwAVHook toggles requires_grad of the prototypes
find_unused_parameters = True
custom_hooks = [
    dict(
        type='SwAVHook',
        priority='VERY_HIGH',
        batch_size=batch_size,
        epoch_queue_starts=4,
        crops_for_assign=[0, 1],
        feat_dim=feat_dim,
        queue_length=640,
        frozen_layers_cfg=dict(prototypes=22))
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
