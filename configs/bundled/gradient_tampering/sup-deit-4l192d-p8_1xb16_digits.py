# The cross-entropy baseline of softmax gradient tampering at digits scale:
# the digits DeiT (4 blocks of deit-tiny's widths, 192 dims, 3 heads, MLP
# 768, patch 8; as bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py) trained
# from scratch with mmpretrain's CrossEntropyLoss: batch 16, no
# augmentation, AdamW lr 5e-4, one warm-up epoch, cosine to epoch 15.
# sgt-deit-4l192d-p8_1xb16_digits.py changes only the loss.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'
