# CMT-Ti trained on ImageNet-1k at 160 (https://arxiv.org/abs/2107.06263;
# 79.0 top-1, 9.5M parameters at 160 in the official README). Recipe of the
# official README command for CMT-Tiny on 8 GPUs x 256 images: lr 8e-4 x
# total batch / 512 (3.2e-3 for 8 x 256, by auto_scale_lr), weight decay
# 0.05, 800 epochs, 20 warm-up epochs, cosine to 1e-5, stochastic depth 0.1,
# no model EMA (--no-model-ema), input 160 (the arch's img_size, which
# sizes the position biases), evaluation resize int(256 / 224 * 160) = 182
# then centre crop 160; everything else as sup-cmt-s_8xb128_in1k.py (the
# official train.py defaults, warm-up from 1e-7 x batch / 512). The
# official run uses apex AMP: add --amp.
# Source: official cmt_pytorch/README.md command for CMT-Tiny and train.py
# defaults.
_base_ = './sup-cmt-s_8xb128_in1k.py'

model = dict(backbone=dict(arch='cmt-ti', drop_path_rate=0.1))

img_size = 160
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

lr = 8e-4  # for a total batch of 512, scaled by auto_scale_lr
warmup_epochs = 20
epochs = 800
min_lr = 1e-5
optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-7 / lr,
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
custom_hooks = []  # --no-model-ema
