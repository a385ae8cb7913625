# CMT-S trained on ImageNet-1k at 224 (https://arxiv.org/abs/2107.06263;
# 83.5 top-1, 26.3M parameters in the official README). Recipe of the
# official README command for CMT-Small (huawei-noah/Efficient-AI-Backbones
# cmt_pytorch, f90e129) on 8 GPUs x 128 images, with the official train.py
# defaults for what it does not set: AdamW, lr 5e-4 x total batch / 512
# (train.py's linear scaling; auto_scale_lr does it here: 1e-3 for 8 x 128),
# weight decay 0.05 except on 1-D parameters (norms, biases; timm's
# create_optimizer), 20 linear warm-up epochs, cosine to 1e-5 over 300
# epochs, stochastic depth 0.1 (linear over the blocks), dropout 0.1 on the
# 1280-d features (the arch's head_drop_rate), model EMA with decay 0.99996
# (train.py's default; validation uses the EMA weights); data: the DeiT
# pipeline (RandomResizedCrop 224 bicubic, flip, rand-m9-mstd0.5-inc1,
# random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1,
# repeated augmentation) and the evaluation resize int(256 / 224 * 224) =
# 256 then centre crop 224. The warm-up starts from 1e-7 x batch / 512
# (official: 1e-7 absolute, the same at batch 512). The official
# run uses apex AMP (O1): add --amp on GPUs.
# Source: official cmt_pytorch/README.md command for CMT-Small and
# train.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.CMT', arch='cmt-s', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,  # CMT's classification features (head_dims)
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

img_size = 224
eval_resize = int(256 / 224 * img_size)
train_dataloader = dict(
    batch_size=128,
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

lr = 5e-4  # for a total batch of 512, scaled by auto_scale_lr
warmup_epochs = 20
epochs = 300
min_lr = 1e-5
optim_wrapper = dict(
    optimizer=dict(lr=lr, weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0))
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
# timm's ModelEma (decay 0.99996, every step) = momentum 1 - decay
custom_hooks = [
    dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')
]
auto_scale_lr = dict(base_batch_size=512, enable=True)
