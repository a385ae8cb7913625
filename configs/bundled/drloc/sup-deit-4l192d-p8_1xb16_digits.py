# The baseline of drloc-deit-4l192d-p8_1xb16_digits.py: the same DeiT, data
# and schedule WITHOUT the DRLoc loss (identical to
# bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py: both take the network
# from _base_/models/deit-4l192d-p8_digits.py).
# Source: bundled-data smoke config, not a paper recipe.
#
# A 4-block DeiT with deit-tiny's widths (192 dims, 3 heads, MLP 768) on
# 8x8 patches of the 32x32 digits: a 4x4 grid of tokens; 15 epochs of
# AdamW (lr 5e-4, batch 16), no augmentation.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'
