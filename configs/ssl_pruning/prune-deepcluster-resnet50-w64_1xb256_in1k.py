# Pruning a self-supervised network (Caron, Morcos, Bojanowski, Mairal,
# Joulin 2020, "Pruning Convolutional Neural Networks with
# Self-Supervision", https://arxiv.org/abs/2001.03554) on ImageNet-1k: a
# ResNet-50 (the paper's ImageNet network) trained without labels by
# DeepCluster (official facebookresearch/deepcluster recipe, as
# configs/deepcluster/: k 10000, PCA-whitening to 256, SGD lr 0.05 momentum
# 0.9, weight decay 1e-5, batch 256, constant lr, uniform sampling over
# clusters) and pruned by mmvitplug.MagnitudePruningHook: iterative global
# magnitude pruning of every convolution / linear weight of the backbone
# with rewinding to early weights, masks obtained without labels.
# Source: the paper (method: iterative unstructured magnitude pruning with
# rewinding, masks from self-supervised training; no official code). The
# paper's pretext tasks (RotNet, Exemplar, NPID) are not in the plugin;
# DeepCluster stands in for them. UNVERIFIED (not in the paper's text we
# have, no code): the final sparsity 90% in 5 rounds (36.9% of the
# remaining weights each), 30 epochs per round, rewinding to the weights
# after 1 epoch (5004 iterations at batch 256), global (not layer-wise)
# ranking, the first convolution pruned too; 180 epochs in all (the
# DeepCluster recipe trains 200 once). Its random-mask baseline: set the
# hook's mask='random-layerwise'. Masks obtained with labels: the same
# hook in a supervised ResNet-50 config.
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
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        in_channels=2048,
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

sparsity = 0.9
num_rounds = 5
interval = 30  # epochs per round
max_epochs = interval * (num_rounds + 1)

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline=extract_pipeline,
        interval=1),
    dict(
        type='mmvitplug.MagnitudePruningHook',
        sparsity=sparsity,
        interval=interval,
        num_rounds=num_rounds,
        rewind_iter=5004,  # 1281167 // 256: the end of epoch 1
        mask='magnitude'),
]

# the top layer: plain SGD (no momentum), same lr and weight decay
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head.fc': dict(momentum=0.0)}))
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)

default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
