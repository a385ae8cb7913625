# DeepCluster (Caron et al. 2018, https://arxiv.org/abs/1807.05520) on the
# bundled digits (32x32, ~1.4k training images, labels unused): before
# every epoch the whole training set is embedded with the evaluation
# transform, PCA-whitened to 64 dims + L2-normalised and clustered by
# k-means (k 50, 20 iterations, new seed each epoch); the epoch trains on
# the cluster ids with sampling uniform over clusters, the classifier
# re-initialised (N(0, 0.01), bias 0) and its optimizer state dropped. NMI
# with the previous assignment (and with the digit labels, never used for
# training) is logged.
# Source: bundled-data smoke config, not a paper recipe (paper: ImageNet,
# AlexNet / VGG-16 on Sobel-filtered images, k 10000, PCA 256; the ViT
# ImageNet config is configs/deepcluster/).
#
# A convnet, as in the paper: the tiny RegNetY of the SEER digits config
# (stages of 16 / 32 / 64 / 128 channels, SE, last BN scales 1), its
# average-pooled last map clustered; the paper's optimizer (SGD, momentum
# 0.9, weight decay 1e-5) at lr 0.01 for batch 16 (paper: 0.05 for 256);
# random resized crops of 40-100% of the area, no flips (they change
# digits); 30 epochs of ~90 steps (~4 CPU minutes).
# Measured (weighted k-NN top-1, k 10, knn-regnety-5l16d-p4_1xb128_digits.py,
# seeds 0 / 1): 92.2 / 92.2 vs 79.1 / 68.2 at random init; NMI of the
# clusters with the digit labels rises 0.43 -> 0.65 (seed 0); all 50
# clusters used. On Sobel input (deepcluster-sobel-regnety-5l16d-p4_1xb16_
# digits.py): 88.9 / 90.8 vs 75.5 / 74.4 at random init on the same
# input. (tools/analysis/pretrain_vs_random.py printed both.) The DeiT of
# deepcluster-deit-4l128d-p8_1xb16_digits.py does not gain at this scale.
_base_ = ['../../_base_/selfsup/clustering_digits.py']

num_clusters = 50

model = dict(
    type='mmvitplug.DeepCluster',
    num_clusters=num_clusters,
    pca_dim=64,
    kmeans_iters=20,
    head_init_std=0.01,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='mmvitplug.RegNetY',
        arch=dict(w0=16, wa=24, wm=2.0, depth=5, group_width=8),
        out_type='avg_featmap',
        zero_init_last_bn=False),
    head=dict(
        type='LinearClsHead',
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)

train_dataloader = dict(batch_size=16)

max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-5))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=16)
