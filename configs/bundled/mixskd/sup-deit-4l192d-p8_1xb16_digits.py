# The baseline of MixSKD at digits scale, transformer version: the digits
# DeiT (4 blocks of deit-tiny's widths, patch 8, as
# bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py) trained alone with
# cross-entropy and Mixup (alpha 0.4, the paper's "CE + Mixup") on the
# schedule of mixskd-deit-4l192d-p8_1xb16_digits.py: batch 16, AdamW lr
# 5e-4, one warm-up epoch, cosine to epoch 15.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'

model = dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.4)))
