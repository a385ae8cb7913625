# ConViT on the bundled digits with 4 x 4 patches: the patch-8 config
# (sup-convit-4l192d-p8_1xb16_digits.py: 4 blocks of 192 dims, 4 heads,
# the first 3 with gated positional self-attention) on an 8 x 8 grid of 64
# patch tokens, one per pixel of the original 8 x 8 digit. Its positional
# attention starts as a convolution (the local initialisation), a prior
# that the plain ViTs lack on this grid (96.9 % top-1 at epoch 15, seed 0;
# the patch-4 DeiT 51.0 %, CaiT 24.8 %); the 64-token teacher of the
# DynamicViT digits configs (bundled/dynamic_vit/
# dynamicvit[-unpruned]-convit-4l192d-p4_1xb16-6e_digits.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-convit-4l192d-p8_1xb16_digits.py']

model = dict(backbone=dict(patch_size=4))
