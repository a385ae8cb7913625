# The bundled UperNet schedule (./shapes-ade_adamw_500i.py: 500 iterations,
# 50 warm-up iterations, linear decay, gradient clipping at 10) with the
# optimizer of mmseg's SegFormer configs for mmseg's MiT backbones: AdamW,
# weight decay 0.01, none on norms and position blocks, at lr 1e-3 (from
# scratch; mmseg's 6e-5 and head 10x are for pre-trained backbones).
# Bundled-data smoke schedule, not a paper recipe.
_base_ = ['./shapes-ade_adamw_500i.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }),
    clip_grad=dict(max_norm=10.))
