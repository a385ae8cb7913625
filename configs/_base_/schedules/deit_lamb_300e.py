# LAMB variant of the DeiT recipe (deit_adamw_300e.py) used by the later
# papers of the DeiT family (ResMLP, PatchConvNet, DeiT III / cosub; official
# facebookresearch/deit code with --opt lamb): LAMB with lr 3e-3 for a total
# batch of 2048 (``auto_scale_lr`` rescales it linearly to the batch
# actually used: 1.5e-3 for 8 x 128), weight decay 0.05 except on 1-D
# parameters (biases, norms, LayerScale / Affine gains), class /
# distillation tokens and position embedding (timm's optimizer factory used
# by the official code), 5 linear warm-up epochs from 1e-6, cosine decay to
# 1e-5 over 300 epochs, no gradient clipping, fp32 (no AMP). Configs set
# their own lr / weight decay / epochs.
_base_ = ['./deit_adamw_300e.py']

optim_wrapper = dict(
    optimizer=dict(type='Lamb', lr=3e-3),
    paramwise_cfg=dict(flat_decay_mult=0.0))
# warm-up from 1e-6 at the new lr
param_scheduler = [
    dict(s, start_factor=1e-6 / 3e-3) if s['type'] == 'LinearLR' else s
    for s in _base_.param_scheduler
]
auto_scale_lr = dict(base_batch_size=2048)
