# Training schedule and runtime of the transformer configs on the bundled
# digits (includes default_runtime.py): the DeiT optimizer, AdamW with
# weight decay 0.05 except on 1-D parameters (biases, norms, LayerScale /
# Affine gains), class / distillation tokens and position embedding; one
# linear warm-up epoch from lr / 100, cosine decay to 1e-5 at epoch 15;
# validation every epoch, only the last checkpoint kept, fixed seed so the
# demo is reproducible. Configs set their own ``lr`` (small-data values, a
# few 1e-3) and may change the optimizer type (ResMLP uses LAMB).
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=15, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
