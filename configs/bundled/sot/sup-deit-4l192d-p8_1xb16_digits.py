# Baseline of sot-deit-4l192d-p8_1xb16_digits.py: the bundled digits DeiT
# (4 blocks of deit-tiny's widths on 8x8 patches of the 32x32 digits, a 4x4
# grid of word tokens) with the usual linear head on the class token, on
# the same schedule as the SoT head (that of
# configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'
