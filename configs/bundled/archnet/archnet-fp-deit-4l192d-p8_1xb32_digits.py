# Arch-Net's ViT recipe at digits scale with every quantiser off (32-bit
# weights and activations): the same student architecture (BatchNorm for
# LayerNorm, ReLU for GELU), teacher, periods, schedule and initialisation
# as archnet-deit-4l192d-p8_1xb32_digits.py. It separates what the
# conversion of the architecture costs from what the quantisation costs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./archnet-deit-4l192d-p8_1xb32_digits.py']

model = dict(backbone=dict(w_bits=None, a_bits=None), head=dict(w_bits=None))
