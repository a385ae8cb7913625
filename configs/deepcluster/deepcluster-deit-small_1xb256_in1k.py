# DeepCluster (Caron et al. 2018, https://arxiv.org/abs/1807.05520) on
# ImageNet-1k with a DeiT-S/16 trunk (the class token after the final norm
# is the clustering feature and the classifier's input).
# Source: official facebookresearch/deepcluster main.py defaults and main.sh
# (k 10000, SGD lr 0.05, momentum 0.9, weight decay 1e-5, batch 256 on one
# GPU, 200 epochs, constant lr, k-means 20 iterations with a new seed per
# epoch, PCA-whitening to 256 + L2, top layer N(0, 0.01) / bias 0 trained by
# its own SGD without momentum, RandomResizedCrop 224 + flip for training,
# Resize 256 + CenterCrop 224 for clustering, uniform sampling over
# clusters); the paper's nets are AlexNet / VGG16-BN on Sobel-filtered
# input (Sobel: wrap the preprocessor in mmvitplug.SobelDataPreprocessor
# and set in_channels=2, as configs/bundled/deepcluster/ does): this is the
# recipe applied to a plugin ViT, not validated at ImageNet scale. On the
# bundled digits DeepCluster improves a small convnet (k-NN 92.2 vs 79.1 /
# 68.2 at random init) but not a small DeiT (README).
_base_ = ['../_base_/default_runtime.py']

data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

model = dict(
    type='mmvitplug.DeepCluster',
    num_clusters=10000,
    pca_dim=256,
    kmeans_iters=20,
    head_init_std=0.01,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmvitplug.DeiT', arch='deit-small', img_size=224,
        patch_size=16, out_type='cls_token'),
    head=dict(
        type='LinearClsHead',
        in_channels=384,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
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
    batch_size=256,
    num_workers=12,
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
        interval=1),
]

# the top layer: plain SGD (no momentum), same lr and weight decay
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head.fc': dict(momentum=0.0)}))
train_cfg = dict(by_epoch=True, max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)

default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
