# The full-precision twin of bimlp-bimlp-7l16d-p4_1xb64_digits.py: the same
# BiMLP modules and parameters (stem, multi-branch blocks with learnable
# shifts, RPReLU and universal shortcuts, down-sampling, classifier), every
# binary convolution a plain full-precision one of real inputs
# (binary=False); the same schedule. The reference of the binary model's
# BOPs / size / accuracy (tools/analysis/benchmark_bimlp.py, README).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./bimlp-bimlp-7l16d-p4_1xb64_digits.py']

model = dict(backbone=dict(binary=False))
