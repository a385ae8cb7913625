# Weighted k-NN evaluation on the bundled digits (knn/digits.py) of the
# tiny RegNetY (stages of 16 / 32 / 64 / 128 channels, 1 / 1 / 2 / 1
# blocks, SE, group width 8) that the SEER and DeepCluster digits configs
# pretrain: the average-pooled map of the last stage (128 channels) is the
# embedding. The random init is the pretraining configs' (last BN scales 1:
# zero-initialised residual branches give the same embedding for every
# digit). The k-NN configs of those families list this file as their
# `_base_`.
_base_ = ['digits.py', '../default_runtime.py']

model = dict(
    type='mmvitplug.EmbeddingModel',
    backbone=dict(
        type='mmvitplug.RegNetY',
        arch=dict(w0=16, wa=24, wm=2.0, depth=5, group_width=8),
        out_type='avg_featmap',
        zero_init_last_bn=False),
    data_preprocessor={{_base_.data_preprocessor}},
)
