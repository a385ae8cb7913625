# The digits DeiT recipe that the bundled DeiT baselines share: the DeiT of
# _base_/models/deit-4l192d-p8_digits.py trained from scratch on the bundled
# digits (32x32) with mmpretrain's cross-entropy: batch 16, no augmentation,
# AdamW lr 5e-4, one warm-up epoch, cosine to epoch 15
# (_base_/schedules/digits_adamw_15e.py).
#
# Sized for a CPU budget of ~1.5 CPU minutes (measured on this data): a
# 4-block DeiT with deit-tiny's widths (192 dims, 3 heads, MLP 768) and
# patch size 8, i.e. a 4x4 grid of tokens each covering 2x2 pixels of the
# original 8x8 digit. Patch size 4 (one token per digit pixel) costs 3.7x
# more and learns far slower in this budget; so do batch 64 (fewer optimizer
# steps) and random shifts that break the alignment of digit pixels and
# patches.
_base_ = [
    '../datasets/digits.py',
    '../schedules/digits_adamw_15e.py',
    '../models/deit-4l192d-p8_digits.py',
]

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
