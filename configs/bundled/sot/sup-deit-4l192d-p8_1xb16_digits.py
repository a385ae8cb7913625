# Baseline of sot-deit-4l192d-p8_1xb16_digits.py: the bundled digits DeiT
# (4 blocks of deit-tiny's widths on 8x8 patches of the 32x32 digits, a 4x4
# grid of word tokens) with the usual linear head on the class token, on
# the same schedule as the SoT head (that of
# configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
    '../../_base_/models/deit-4l192d-p8_digits.py',
]

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
