# Weighted k-NN evaluation on the bundled digits (knn/digits.py) of the
# 4-block DeiT of 64 dims (2 heads, MLP 256) on 8x8 patches that the DINO
# MACL and UP-ReID digits configs pretrain: the class token after the
# final norm is the embedding (UP-ReID's config takes the patch average).
# The k-NN configs of those families list this file as their `_base_`.
_base_ = ['digits.py', '../default_runtime.py']

model = dict(
    type='mmvitplug.EmbeddingModel',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    data_preprocessor={{_base_.data_preprocessor}},
)
