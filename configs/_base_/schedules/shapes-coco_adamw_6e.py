# Schedule and runtime of the bundled-shapes Mask R-CNN configs
# (`*_shapes-coco.py`, includes mmdet's default_runtime.py), trained from
# scratch on CPU: AdamW, lr 1e-3 for a batch of 4, weight decay 0.05,
# gradient clipping at 10, a mild layer-wise lr decay (0.9) as nothing is
# pretrained; 100 linear warm-up iterations from lr / 100, cosine decay to
# 1e-5 over 6 epochs, one validation and one checkpoint at the end, fixed
# seed (the demo and the e2e tests are reproducible). Bundled-data smoke
# schedule, not a paper recipe.
_base_ = ['mmdet::_base_/default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
    clip_grad=dict(max_norm=10.))

max_epochs = 6
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs,
    val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-5,
        begin=0,
        end=max_epochs,
        by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs))
auto_scale_lr = dict(base_batch_size=4)
randomness = dict(seed=0)
