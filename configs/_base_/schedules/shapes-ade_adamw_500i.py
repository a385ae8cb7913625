# Schedule and runtime of the bundled-shapes UperNet configs
# (`*_shapes-ade.py`, includes mmseg's default_runtime.py), trained from
# scratch on CPU: the optimizer of shapes-coco_adamw_6e.py (AdamW, lr 1e-3,
# weight decay 0.05, gradient clipping at 10, layer-wise lr decay 0.9);
# 500 iterations (mmseg's iteration-based loop), 50 linear warm-up
# iterations from lr / 100, then linear (poly 1.0) decay to 0, one
# validation and one checkpoint at the end, fixed seed (the demo and the
# e2e tests are reproducible). Bundled-data smoke schedule, not a paper
# recipe.
_base_ = ['mmseg::_base_/default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
    clip_grad=dict(max_norm=10.))

max_iters = 500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(
        type='PolyLR',
        eta_min=0.,
        power=1.0,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
