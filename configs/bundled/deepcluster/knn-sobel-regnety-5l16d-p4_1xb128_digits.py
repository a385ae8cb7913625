# Weighted k-NN evaluation of the tiny RegNetY pretrained on Sobel-filtered
# digits by deepcluster-sobel-regnety-5l16d-p4_1xb16_digits.py: the same
# Sobel input (grey-level gradients, 2 channels) as in pretraining.
#   tools/test.py THIS_CONFIG none        # random init
#   tools/test.py THIS_CONFIG BACKBONE    # export_backbone.py output
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = ['./knn-regnety-5l16d-p4_1xb128_digits.py']

model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='mmvitplug.SobelDataPreprocessor',
        preprocessor={{_base_.data_preprocessor}}),
    backbone=dict(in_channels=2))
