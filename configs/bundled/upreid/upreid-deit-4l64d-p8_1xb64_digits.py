# UP-ReID (Yang et al., CVPR 2022, https://arxiv.org/abs/2112.00317;
# no official code: mmvitplug.UPReID re-implements it from the paper, see
# mmvitplug.models.losses.UPReIDLoss for what was inferred) on a ReID proxy:
# the bundled digits, identity = digit class (never read in pre-training;
# the retrieval evaluation ranks the training digits for each validation
# digit by cosine similarity: rank-1 / mAP).
# Source: bundled-data smoke config, not a paper recipe.
#
# Backbone: the tiny DeiT of configs/bundled/macl (4 blocks of 64 channels
# on 8x8 patches: a 4x4 patch map, out_type='featmap'); the global feature
# is the map's average (what knn-deit-4l64d-p8_1xb128_digits.py and an
# exported backbone with out_type='avg_featmap' give), the local features
# 2 horizontal stripes of 2 token rows. Views per digit: the original
# (no augmentation) + 2 augmented views (random resized crops of scale
# 0.5-1, brightness / contrast jitter; no flips: they change digits).
# MoCo v2 projection 64 -> 128 -> 64 shared by global and stripe features,
# queue 1024 keys (both views' keys enqueued: 128 per step), momentum 0.99
# (momentum=0.01, the weight of the new parameters), temperatures 0.2,
# loss weights 1 / 1. The AdamW schedule of the bundled configs (lr 1e-3
# for batch 64), one warm-up epoch, cosine over 10 epochs (half the MACL
# digits budget: three views per digit cost ~3x a SimCLR step; small-data
# values, not tuned).
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.5, 1.),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
]
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        # [original, augmented, augmented]
        dict(
            type='MultiView',
            num_views=[1, 2],
            transforms=[[], view_pipeline]),
        dict(type='PackInputs'),
    ]))

model = dict(
    type='mmvitplug.UPReID',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        out_type='featmap'),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=64,
        hid_channels=128,
        out_channels=64,
        with_avg_pool=False),
    loss=dict(
        type='mmvitplug.UPReIDLoss',
        temperature=0.2,
        local_temperature=0.2,
        queue_len=1024,
        feat_dim=64,
        gc_weight=1.0,
        lc_weight=1.0),
    num_stripes=2,
    momentum=0.01,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean={{_base_.data_preprocessor.mean}},
        std={{_base_.data_preprocessor.std}},
        to_rgb=True),
)

# pre-training only: no validation loop
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(by_epoch=True, max_epochs=10)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=10, convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=64, enable=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best=None))
