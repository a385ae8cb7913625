# TinyMIM pre-training schedule (official main_pretrain.py, README
# command): AdamW betas (0.9, 0.95), lr 1.5e-4 x batch / 256, weight decay
# 0.05 except on 1-D parameters and biases, 15 linear warm-up epochs (from
# 1e-4 x the peak; official: from 0), cosine to 0 per iteration, 300
# epochs. Includes default_runtime.py; a config adds its data (without
# validation: pre-training has none).
_base_ = ['../default_runtime.py']

max_epochs = 300
warmup_epochs = 15
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95),
        weight_decay=0.05),
    # official add_weight_decay: no decay on 1-D parameters and biases (the
    # class token and position embedding are decayed)
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=4096)
# the student's last block, norm and (absent) head get no gradient
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=10, max_keep_ckpts=3, save_best=None))
