# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the 4-block DeiT of
# deepcluster-deit-4l128d-p8_1xb16_digits.py and
# ../deepercluster/deepercluster-deit-4l128d-p8_1xb64_digits.py: the class
# token after the final norm is the embedding.
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
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=128, num_layers=4, num_heads=4,
            feedforward_channels=512),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    data_preprocessor={{_base_.data_preprocessor}},
)
