# Schedule of the ADE20K UperNet configs on plain backbones, as BEiT / MAE
# segmentation: mmseg's schedule_160k.py (160k iterations, its hooks) with
# AdamW, lr 1e-4, weight decay 0.05, layer-wise lr decay 0.65, 1500 linear
# warm-up iterations from 1e-10, then linear (poly 1.0) decay to 0.
_base_ = ['mmseg::_base_/schedules/schedule_160k.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]
