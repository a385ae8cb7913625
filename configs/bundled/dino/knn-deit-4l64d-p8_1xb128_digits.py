# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the 4-block DeiT
# pre-trained by dino-deit-4l64d-p8_1xb64_digits.py: the class token after
# the final norm is the embedding, as DINO evaluates it.
#   tools/test.py THIS_CONFIG none        # random init (trunc-normal)
#   tools/test.py THIS_CONFIG BACKBONE    # the teacher's backbone.* weights
#                                         # exported by export_backbone.py
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = ['../../_base_/knn/deit-4l64d-p8_digits.py']
