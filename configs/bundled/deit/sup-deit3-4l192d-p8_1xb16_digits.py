# The DeiT III ViT (https://arxiv.org/abs/2204.07118) on the bundled digits:
# the model of sup-deit-4l192d-p8_1xb16_digits.py (4 blocks of deit-tiny's
# widths, patch size 8, same data and schedule) with DeiT III's three
# changes to the architecture: LayerScale in every block (init 0.1 to learn
# fast from scratch; the deit3-* archs use the official 1e-4), the same
# stochastic-depth rate in every block, and a position embedding of the
# patches only (added before the class token is prepended).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = './sup-deit-4l192d-p8_1xb16_digits.py'

model = dict(
    backbone=dict(
        layer_scale_init_value=0.1,
        drop_path_mode='uniform',
        pos_embed_extra_tokens=False,
        drop_path_rate=0.05))
