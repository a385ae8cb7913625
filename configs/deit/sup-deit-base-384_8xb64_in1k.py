# Fine-tune a 224px DeiT-B at 384px on ImageNet-1k (DeiT-B↑384, 83.1 top-1
# in the paper; the official checkpoint gives 82.9): 30 epochs, batch 512,
# lr 5e-6 (5 warm-up epochs from 1e-6, then constant: min lr 5e-6),
# weight decay 1e-8, as in the official README. The position embedding is
# interpolated from the 14x14 to the 24x24 patch grid when loading.
#
# `pretrained` is the 224px checkpoint: the checkpoint of
# sup-deit-base_8xb128_in1k.py (mmvitplug layout), or the official
# https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth
# (converted on load, backbone and head).
# Source: DeiT paper (fine-tuning at 384) and the official README
# fine-tuning command.
pretrained = 'work_dirs/sup-deit-base_8xb128_in1k/epoch_300.pth'

_base_ = './sup-deit-base_8xb128_in1k.py'

model = dict(
    backbone=dict(
        arch='deit-base-384',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # mmvitplug.Pretrained converts the official layout for the head too
    head=dict(
        init_cfg=dict(
            _delete_=True, type='mmvitplug.Pretrained',
            checkpoint=pretrained, prefix='head.', converter='DeiT')),
)

# the 224 pipelines at 384
train_pipeline = [
    dict(t, scale=384) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
# evaluation resizes the short edge to 438 (384 / 0.875, the official one)
test_pipeline = [
    dict(t, scale=438) if t['type'] == 'ResizeEdge' else
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
