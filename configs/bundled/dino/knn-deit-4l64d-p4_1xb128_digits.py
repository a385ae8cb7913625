# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the 4-block DeiT
# pre-trained by dino-deit-4l64d-p4_1xb64_digits.py: the class token after
# the final norm is the embedding, as DINO evaluates it.
#   tools/test.py THIS_CONFIG none        # random init (trunc-normal)
#   tools/test.py THIS_CONFIG BACKBONE    # the teacher's backbone.* weights
#                                         # exported by export_backbone.py
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
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=128),
        img_size=32,
        patch_size=4,
        out_type='cls_token'),
    data_preprocessor={{_base_.data_preprocessor}},
)
