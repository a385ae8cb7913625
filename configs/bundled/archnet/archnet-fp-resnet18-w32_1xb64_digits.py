# Arch-Net at digits scale with every quantiser off (32-bit weights and
# activations, logits not clipped): the same student architecture (3x3
# convolutions, concatenations, 2x2 max pooling), teacher, periods, schedule
# and initialisation as archnet-resnet18-w32_1xb64_digits.py. It
# separates what the conversion of the architecture costs from what the
# quantisation costs (the README's 32w32a rows are the teachers).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./archnet-resnet18-w32_1xb64_digits.py']

model = dict(
    backbone=dict(w_bits=None, a_bits=None),
    head=dict(w_bits=None, logit_clip=None))
