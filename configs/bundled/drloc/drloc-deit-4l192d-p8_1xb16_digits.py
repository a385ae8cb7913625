# DeiT + the dense relative localisation loss (DRLoc, Liu et al. 2021,
# https://arxiv.org/abs/2106.03746) on the bundled digits: the same model,
# data and schedule as its baseline sup-deit-4l192d-p8_1xb16_digits.py, with
# the DRLoc MLP on the final 4x4 token map.
# Source: bundled-data smoke config, not a paper recipe. DRLoc settings:
# the official defaults (yhlleo/VTs-Drloc main.py / config.py): mode l1,
# lambda 0.5 (--lambda_drloc default), 64 pairs per image (--sample_size
# default), MLP width 512, signed offsets (USE_ABS False); the lambda
# warm-up is the official 20 of 300 epochs scaled to 15 epochs: 1 epoch
# (weight 0 in epoch 0, lambda in epoch 1, then linear decay to 0 at the
# end of epoch 15).
_base_ = ['./sup-deit-4l192d-p8_1xb16_digits.py']

model = dict(
    type='mmvitplug.DRLocClassifier',
    drloc_head=dict(
        type='mmvitplug.DRLocHead',
        in_channels=192,
        num_pairs=64,
        hidden_channels=512,
        loss=dict(type='mmvitplug.DRLocLoss', mode='l1', loss_weight=0.5)))

custom_hooks = [dict(type='mmvitplug.DRLocWeightHook', warmup_epochs=1)]
