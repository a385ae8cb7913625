# DeeperCluster (Caron et al. 2019, https://arxiv.org/abs/1905.01278) with a
# DeiT-S/16 trunk, on ImageNet-1k (the paper trains on YFCC100M, which
# has no loader here).
# Source: official facebookresearch/DeeperCluster main.sh (SGD lr 0.1,
# momentum 0.9, weight decay 1e-5, batch 48 x 64 GPUs, 100 epochs,
# reassignment every 3 epochs, 16 super-classes = 4 rotations x 4
# super-clusters, k-means 10 iterations, RandomResizedCrop 224 + flip then
# the rotation for training, Resize 256 + CenterCrop 224 for clustering;
# prediction layers nn.Linear-initialised, new at each reassignment).
# Changed: k 320000 (for 96M YFCC images) -> 10000 (DeepCluster's
# ImageNet value); PCA 4096 (VGG's 4096-d fc7) -> 256 (DeiT-S has 384
# dims); the paper's VGG16-BN + Sobel is not built; runs on any number of
# processes (the official code needs a multiple of 16). Not validated at
# ImageNet scale.
_base_ = ['../_base_/default_runtime.py']

data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

model = dict(
    type='mmvitplug.DeeperCluster',
    num_clusters=10000,
    num_super_clusters=4,
    rotation=True,
    pca_dim=256,
    kmeans_iters=10,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmvitplug.DeiT', arch='deit-small', img_size=224,
        patch_size=16, out_type='cls_token'),
    head=dict(type='mmvitplug.DeeperClusterHead', in_channels=384),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
extract_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=48,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='mmvitplug.UniformClusterSampler'),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='train',
        pipeline=train_pipeline))

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline=extract_pipeline,
        interval=3),
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-5))
train_cfg = dict(by_epoch=True, max_epochs=100)
auto_scale_lr = dict(base_batch_size=3072)

default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
