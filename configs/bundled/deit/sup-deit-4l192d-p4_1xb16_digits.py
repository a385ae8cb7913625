# DeiT WITHOUT a teacher on the bundled digits (32x32) with patch size 4:
# sup-deit-4l192d-p8_1xb16_digits.py (same 4 blocks of deit-tiny's widths,
# 192 dims, 3 heads, MLP 768; same schedule, batch and lr) on 4x4 patches,
# i.e. an 8x8 grid of 64 tokens, one per pixel of the original 8x8 digit
# (~3.7x the compute of patch 8; learns far slower on this schedule: 51.0%
# top-1 at epoch 15, seed 0). Teacher of the p4 DynamicViT configs
# (bundled/dynamic_vit/dynamicvit-*-p4_*), whose `teacher_ckpt` is this
# config's last checkpoint.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-deit-4l192d-p8_1xb16_digits.py']

model = dict(backbone=dict(patch_size=4))
