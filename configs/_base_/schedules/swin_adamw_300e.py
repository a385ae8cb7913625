# Swin's ImageNet recipe (https://arxiv.org/abs/2103.14030; the defaults of
# microsoft/Swin-Transformer config.py, which LIT-S/M/B and LITv2 train
# with): AdamW, lr 5e-4 x total batch / 512 (``lr`` is the value for 512
# images and ``auto_scale_lr`` is enabled, as main.py's linear scaling:
# 1e-3 for 8 GPUs x 128), betas (0.9, 0.999), weight decay 0.05 except on
# 1-D parameters, biases, absolute position embeddings and
# relative-position tables, gradient-norm clipping 5.0, 20 linear warm-up
# epochs from 5e-7 x batch / 512, cosine to 5e-6 x batch / 512 over 300
# epochs (1e-5 at 8 x 128: mmengine's eta_min is not rescaled, set it for
# another total batch). Swin does not use repeated augmentation: configs
# on imagenet_deit.py switch its sampler to DefaultSampler.
lr = 5e-4  # for a total batch of 512, scaled by auto_scale_lr
warmup_epochs = 20
epochs = 300

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=lr, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
        }),
    clip_grad=dict(max_norm=5.0),
)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=5e-7 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=512, enable=True)
