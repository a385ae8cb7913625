# Arch-Net's ImageNet protocol (megvii-research/Arch-Net f43bab2
# train_imagenet/train_archnet_resnet18.py, datasets/imagenet_dataset.py):
# distillation on a random 30000-image subset of the training set (here 30
# per class, drawn once with a fixed seed: every process sees the same
# subset, unlike the official per-rank shuffle), Resize 256, CenterCrop
# 224, horizontal flip; evaluation on the val set with the same resize and
# crop. 32 images a GPU; labels are loaded but the distillation reads none.
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# officially the evaluation transform plus a horizontal flip
train_pipeline = test_pipeline[:-1] + [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmvitplug.LabeledSubset',
        num_per_class=30,
        seed=0,
        dataset=dict(
            type='ImageNet',
            data_root='data/imagenet',
            split='train',
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
