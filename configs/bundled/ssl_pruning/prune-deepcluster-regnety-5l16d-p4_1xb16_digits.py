# Pruning a self-supervised network (Caron et al. 2020, "Pruning
# Convolutional Neural Networks with Self-Supervision",
# https://arxiv.org/abs/2001.03554) on the bundled digits: the tiny RegNetY
# trained by DeepCluster (labels unused, the recipe of
# ../deepcluster/deepcluster-regnety-5l16d-p4_1xb16_digits.py) is pruned by
# mmvitplug.MagnitudePruningHook to 80% sparsity (global magnitude, every
# convolution / linear weight of the backbone) in 2 rounds (55.3% then
# 80% exactly), each round rewound to the weights after iteration 90 (the
# end of the first epoch: late resetting) and trained again for 6 epochs
# under the mask; 18 epochs in all (the dense recipe: 30). The
# learning rate restarts its cosine at every round (mmengine's
# CosineRestartLR: 1 warm-up epoch, then periods of 5, 6, 6 epochs), as
# each round retrains from the rewound weights.
# Source: bundled-data smoke config, not a paper recipe (the paper's
# rewinding iteration, per-round rate and schedule are unverified: no
# official code).
#
# Its random-mask twin (same sparsity per weight tensor, same schedule):
# prune-random-deepcluster-regnety-5l16d-p4_1xb16_digits.py. The claim
# (k-NN of the pruned network above the random mask's) is measured by
#   python tools/analysis/ssl_pruning_claims.py THIS_CONFIG \
#     RANDOM_TWIN knn-regnety-5l16d-p4_1xb128_digits.py --seeds 0 1
# (both configs of this folder). Measured (weighted k-NN top-1 k 10,
# seeds 0 / 1; 16,582 of 82,912 weights kept in both runs): 76.6 / 80.8
# vs random mask 77.2 / 77.4; at 90% (--cfg-options
# custom_hooks.1.sparsity=0.9): 74.6 / 75.8 vs 84.4 / 78.8. The claim does
# not hold at this scale (dense DeepCluster, 30 epochs: 92.2 / 92.2).
_base_ = ['../../_base_/selfsup/clustering_digits.py']

num_clusters = 50
sparsity = 0.8
num_rounds = 2
interval = 6  # epochs per round
max_epochs = interval * (num_rounds + 1)

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

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-5))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineRestartLR',
        periods=[interval - 1] + [interval] * num_rounds,
        restart_weights=[1.0] * (num_rounds + 1),
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=16)

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline={{_base_.test_pipeline}},
        interval=1),
    dict(
        type='mmvitplug.MagnitudePruningHook',
        sparsity=sparsity,
        interval=interval,
        num_rounds=num_rounds,
        rewind_iter=90,  # ceil(1438 / 16) iterations: the end of epoch 1
        mask='magnitude'),
]
default_hooks = dict(
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
