# DeiT WITHOUT a teacher on the bundled digits (32x32), the baseline of
# distill-hard-deit-4l192d-p8_1xb16_digits.py (same student, same
# schedule).
# Source: bundled-data smoke config, not a paper recipe.
#
# The recipe: _base_/common/deit-4l192d-p8_1xb16_digits.py.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'
