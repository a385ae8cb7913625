# DeeperCluster (Caron et al. 2019, https://arxiv.org/abs/1905.01278) on the
# bundled digits, single process or DDP: every 3 epochs the training set is
# embedded with the evaluation transform, PCA-whitened to 64 dims + L2 and
# clustered hierarchically (k-means into 4 super-clusters, then 20
# sub-clusters inside each: 80 pseudo-labels); training predicts the
# super-class (4 rotations x 4 super-clusters = 16) and, with the
# sub-class layer of the sample's super-class, its sub-cluster; sampling is
# uniform over the sub-clusters. The sub-class layers (and the super-class
# layer) are re-initialised at each reassignment.
# Source: bundled-data smoke config, not a paper recipe (paper: YFCC100M,
# VGG16-BN + Sobel, k 320000, 16 super-classes, PCA 4096, reassignment
# every 3 epochs: configs/deepercluster/).
#
# The 4-block DeiT, views and optimizer of
# ../deepcluster/deepcluster-deit-4l128d-p8_1xb16_digits.py; evaluate with
# ../deepcluster/knn-deit-4l128d-p8_1xb128_digits.py after
# tools/model_converters/export_backbone.py.
_base_ = ['../../_base_/selfsup/clustering_digits.py']

embed_dims = 128

model = dict(
    type='mmvitplug.DeeperCluster',
    num_clusters=80,
    num_super_clusters=4,
    rotation=True,
    pca_dim=64,
    kmeans_iters=10,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=embed_dims, num_layers=4, num_heads=4,
            feedforward_channels=4 * embed_dims),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    head=dict(type='mmvitplug.DeeperClusterHead', in_channels=embed_dims),
)

train_dataloader = dict(batch_size=64)

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline={{_base_.test_pipeline}},
        interval=3),
]

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=12, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=12)
auto_scale_lr = dict(base_batch_size=64)

# pretraining only: no validation loop (k-NN evaluation is a test config)
default_hooks = dict(checkpoint=dict(interval=12))
