# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20; bank = the
# training images, queries = the validation images) of the tiny RegNetY
# pruned by prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py or by its
# random-mask twin: the exported backbone holds the pruned weights as zeros,
# so it is evaluated as pruned.
#   tools/test.py THIS_CONFIG BACKBONE    # export_backbone.py output
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = ['../../_base_/knn/regnety-5l16d-p4_digits.py']
