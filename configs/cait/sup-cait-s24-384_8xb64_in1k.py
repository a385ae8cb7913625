# Fine-tune a 224px CaiT-S24 at 384px on ImageNet-1k (S24↑384; the official
# distilled checkpoint gives 85.1 top-1). CaiT fine-tunes at the higher
# resolution with DeiT's procedure: 30 epochs, batch 512, lr 5e-6 (5 warm-up
# epochs from 1e-6, then constant), weight decay 1e-8, same augmentation at
# 384; evaluation at crop ratio 1.0. The 14x14 position embedding is
# interpolated to the 24x24 patch grid when loading.
#
# `pretrained` is the 224px checkpoint: the checkpoint of
# sup-cait-s24_8xb128_in1k.py (mmvitplug layout), or the official
# https://dl.fbaipublicfiles.com/deit/S24_224.pth (converted on load).
# Source: CaiT paper (fine-tuning at 384 with DeiT's procedure) and the
# official CaiT README.
pretrained = 'work_dirs/sup-cait-s24_8xb128_in1k/epoch_400.pth'

_base_ = './sup-cait-s24_8xb128_in1k.py'

model = dict(
    backbone=dict(
        arch='cait-s24-384',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # mmvitplug.Pretrained converts the official layout for the head too
    head=dict(
        init_cfg=dict(
            _delete_=True, type='mmvitplug.Pretrained',
            checkpoint=pretrained, prefix='head.', converter='CaiT')),
)

# the 224 pipelines at 384
train_pipeline = [
    dict(t, scale=384) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
# evaluation at crop ratio 1.0
test_pipeline = [
    dict(t, scale=384) if t['type'] == 'ResizeEdge' else
    dict(t, crop_size=384) if t['type'] == 'CenterCrop' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=5e-6, weight_decay=1e-8))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-6,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=5e-6,
        by_epoch=True,
        begin=5,
        end=30,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30)
