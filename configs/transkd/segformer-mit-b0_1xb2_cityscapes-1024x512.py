# The TransKD student alone (https://arxiv.org/abs/2202.13393; official
# RuipingL/TransKD train/train_student.py, README: 55.86 mIoU): SegFormer
# with MiT-B0, not pre-trained, on Cityscapes images resized to 1024x512,
# the official recipe of every TransKD student:
# - data: each image resized to 512 px high (1024x512), random horizontal
#   flip; evaluated at 1024x512 (whole image);
# - loss: cross-entropy with the official (ERFNet) class weights;
# - AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01 on every
#   parameter, batch 2 on one GPU, 1000 epochs of the 2975 training images
#   (1488 iterations each), lr x (1 - epoch / 1500) (a polynomial decay of
#   power 1 over 1500 epochs, stopped at 1000: a linear decay to 1/3; here
#   per iteration); validation every 10 epochs.
# Not identical: the official loss is computed at 1/4 resolution (labels
# resized to the logits) and its mIoU too; here mmseg's (logits upsampled
# to the labels, mIoU at full resolution); no +-2 px random translation.
# Source: official RuipingL/TransKD train_student.py / train_TransKDBase.py
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

crop_size = (512, 1024)
# official CrossEntropyLoss2d weights (ERFNet's), trainId order
class_weight = [
    2.5959737, 6.741505, 3.5353868, 9.866315, 9.690922, 9.369371, 10.289124,
    9.953209, 4.3098087, 9.490392, 7.674411, 9.396925, 10.347794, 6.3928986,
    10.226673, 10.241072, 10.28059, 10.396977, 10.05567
]
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    decode_head=dict(
        loss_decode=dict(class_weight=class_weight)),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.01))
iters_per_epoch = 1488  # ceil(2975 / 2)
max_iters = 1000 * iters_per_epoch
param_scheduler = [
    # official PolynomialLRDecay(max_decay_steps=1500, power=1.0), stepped
    # per epoch, stopped at epoch 1000: lr x (1 - epoch / 1500), a linear
    # decay from 1 to 1/3 of the lr
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=1 / 3,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=10 * iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False,
        interval=10 * iters_per_epoch, max_keep_ckpts=3, save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
