# DeiT recipe (https://arxiv.org/abs/2012.12877, Table 9): AdamW,
# lr 5e-4 * total_batch / 512, weight decay 0.05 (none on norms, biases,
# position embedding and class / distillation tokens), 5 linear warm-up
# epochs from lr 1e-6, cosine decay to 1e-5 over 300 epochs, no gradient
# clipping. ``lr`` is the paper's 5e-4 for a total batch of 512 and
# ``auto_scale_lr`` is enabled, so the runner always trains with
# lr = 5e-4 * (GPUs x batch per GPU) / 512, the official scaling rule
# (1e-3 for 8 x 128).
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=5e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
    clip_grad=None,
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-4,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=300,
        convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=512, enable=True)
