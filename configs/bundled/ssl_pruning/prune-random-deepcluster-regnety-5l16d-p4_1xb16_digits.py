# The random-mask baseline of prune-deepcluster-regnety-5l16d-p4_1xb16_
# digits.py (Caron et al. 2020, https://arxiv.org/abs/2001.03554): the same
# DeepCluster training, rounds, rewinding and schedule, but at every round
# mmvitplug.MagnitudePruningHook draws the mask at random among the weights
# still kept, with exactly the per-tensor counts of the global magnitude
# mask of that round (mask='random-layerwise'): the same sparsity (80%
# after 2 rounds) in every weight tensor, random positions.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py']

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline={{_base_.test_pipeline}},
        interval=1),
    dict(
        type='mmvitplug.MagnitudePruningHook',
        sparsity={{_base_.sparsity}},
        interval={{_base_.interval}},
        num_rounds={{_base_.num_rounds}},
        rewind_iter=90,
        mask='random-layerwise'),
]
