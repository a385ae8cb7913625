# SEER RG-64GF: configs/seer/seer-regnety-320_512xb16_ig1b.py with the
# RegNetY-64GF trunk of the released SEER model (vissl
# configs/config/benchmark/*/models/regnet64Gf_3.yaml: depth 20, w_0 352,
# w_a 147.48, w_m 2.4, group width 328; 276.5M parameters, final width 4920;
# the README's "250M" does not follow from this design).
# Source: vissl projects/SEER README + MODEL_DOCUMENTATION.md, vissl
# regnet64Gf_3.yaml (facebookresearch/vissl@09270ed2); the head widths 4920
# -> 8192 -> 8192 -> 256 are inferred from the 256GF head config.
# NOT REPRODUCIBLE AS IS: IG-1B is private (see the 32GF config).
_base_ = ['./seer-regnety-320_512xb16_ig1b.py']

model = dict(
    backbone=dict(arch='regnety-640'), neck=dict(in_channels=4920))
