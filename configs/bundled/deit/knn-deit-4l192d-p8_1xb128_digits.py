# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the 4-layer DeiT of
# sup-deit-4l192d-p8_1xb16_digits.py on the bundled digits: the class token
# after the final norm is the embedding.
#   tools/test.py THIS_CONFIG none        # random init (trunc-normal)
#   tools/test.py THIS_CONFIG BACKBONE    # backbone.* weights, e.g. from
#                                         # export_backbone.py or a classifier
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
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    data_preprocessor={{_base_.data_preprocessor}},
)
