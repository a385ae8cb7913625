# CIFAR-100 for models at 224 px (mmpretrain's CIFAR100: RGB uint8 arrays
# read from data/cifar100): the 32x32 test images resized to 224 (short
# edge, bilinear: torchvision's Resize((224, 224)) of a square image),
# top-1 / top-5. A config sets data_preprocessor (its normalisation,
# num_classes=100), train_pipeline and the batch sizes:
#     train_dataloader = dict(batch_size=B,
#                             dataset=dict(pipeline=train_pipeline))
#     val_dataloader = dict(batch_size=V)
#     test_dataloader = val_dataloader
dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
test_pipeline = [
    dict(
        type='ResizeEdge',
        scale=224,
        edge='short',
        backend='pillow',
        interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
