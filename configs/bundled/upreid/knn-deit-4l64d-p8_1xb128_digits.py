# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the 4-layer DeiT
# pre-trained by upreid-deit-4l64d-p8_1xb64_digits.py: the average of the
# patch map (UP-ReID's global feature, before the projection) is the
# embedding.
#   tools/test.py THIS_CONFIG none        # random init (trunc-normal)
#   tools/test.py THIS_CONFIG BACKBONE    # backbone.* weights exported by
#                                         # export_backbone.py
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = ['../../_base_/knn/deit-4l64d-p8_digits.py']

model = dict(backbone=dict(out_type='avg_featmap'))
