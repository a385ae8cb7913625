# ImageNet-1k for TinyMIM pre-training (https://arxiv.org/abs/2301.01296,
# official main_pretrain.py): one RandomResizedCrop(224, scale 0.2-1,
# bicubic) + flip per image, seen as it is by the teacher and
# colour-jittered (0.4, 0.4, 0.4) by the student; no labels are used and
# there is no validation.
# Types are mmpretrain's (and mmvitplug.*).
data_preprocessor = dict(
    type='mmvitplug.MultiViewClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    # view 1, the student's: the crop colour-jittered; view 2, the
    # teacher's: the crop as it is
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[[
            dict(
                type='ColorJitter', brightness=0.4, contrast=0.4,
                saturation=0.4)
        ], []]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet/',
        split='train',
        pipeline=train_pipeline))
# pre-training: no validation
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
