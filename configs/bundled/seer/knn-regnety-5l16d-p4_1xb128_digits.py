# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the tiny RegNetY of
# seer-regnety-5l16d-p4_1xb64_digits.py: the average-pooled map of the last
# stage (128 channels) is the embedding. The random init is the pretraining
# config's (last BN scales 1: zero-initialised residual branches give the
# same embedding for every digit).
#   tools/test.py THIS_CONFIG none        # random init
#   tools/test.py THIS_CONFIG BACKBONE    # export_backbone.py output
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = [
    '../../_base_/knn/digits.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.EmbeddingModel',
    backbone=dict(
        type='mmvitplug.RegNetY',
        arch=dict(w0=16, wa=24, wm=2.0, depth=5, group_width=8),
        out_type='avg_featmap',
        zero_init_last_bn=False),
    data_preprocessor={{_base_.data_preprocessor}},
)
