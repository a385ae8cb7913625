# CMT-XS trained on ImageNet-1k at 192 (https://arxiv.org/abs/2107.06263;
# 81.8 top-1, 15.2M parameters at 192 in the official README). Recipe of
# the official README command for CMT-XS on 8 GPUs x 256 images: lr 7e-4 x
# total batch / 512 (2.8e-3 for 8 x 256, by auto_scale_lr), weight decay
# 0.04, 400 epochs, 20 warm-up epochs from 1e-6, cosine to 2e-5, stochastic
# depth 0.08, model EMA with decay 0.9998, input 192 (the arch's img_size,
# which sizes the position biases), evaluation resize int(256 / 224 * 192)
# = 219 then centre crop 192; everything else as sup-cmt-s_8xb128_in1k.py
# (the official train.py defaults). The official warm-up starts at 1e-6
# absolute, ours at 1e-6 x batch / 512. The official run uses apex AMP: add
# --amp.
# Source: official cmt_pytorch/README.md command for CMT-XS and train.py
# defaults.
_base_ = './sup-cmt-s_8xb128_in1k.py'

model = dict(backbone=dict(arch='cmt-xs', drop_path_rate=0.08))

img_size = 192
eval_resize = int(256 / 224 * img_size)
train_dataloader = dict(
    batch_size=256,
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
        for t in _base_.train_pipeline
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(t, scale=eval_resize) if t['type'] == 'ResizeEdge' else
        dict(t, crop_size=img_size) if t['type'] == 'CenterCrop' else t
        for t in _base_.test_pipeline
    ]))
test_dataloader = val_dataloader

lr = 7e-4  # for a total batch of 512, scaled by auto_scale_lr
warmup_epochs = 20
epochs = 400
min_lr = 2e-5
optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=0.04))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=min_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
# timm's ModelEma (decay 0.9998, every step) = momentum 1 - decay
custom_hooks = [
    dict(type='EMAHook', momentum=2e-4, priority='ABOVE_NORMAL')
]
