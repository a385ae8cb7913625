# ImageNet-1k with the DeiT III augmentation recipe
# (https://arxiv.org/abs/2204.07118, "3-Augment"; official
# facebookresearch/deit code with --ThreeAugment --color-jitter 0.3
# --reprob 0.0 --eval-crop-ratio 1.0): RandomResizedCrop 224 (bicubic) and
# horizontal flip, then one of grayscale / solarization / Gaussian blur,
# colour jitter 0.3; no RandAugment, no random erasing; Mixup 0.8 / CutMix
# 1.0 and repeated augmentation as in imagenet_deit.py; evaluation at crop
# ratio 1.0 (short edge 224, centre crop 224). Images are loaded BGR:
# grayscale uses the ITU-R 601 luma weights in BGR order, as torchvision's
# Grayscale does in RGB.
_base_ = ['./imagenet_deit.py']

# imagenet_deit.py's load, RandomResizedCrop and flip, then 3-Augment
train_pipeline = _base_.train_pipeline[:3] + [
    dict(
        type='RandomChoice',
        transforms=[
            [
                dict(
                    type='RandomGrayscale',
                    prob=1.0,
                    keep_channels=True,
                    channel_weights=(0.114, 0.587, 0.299))
            ],
            [dict(type='Solarize', thr=128, prob=1.0)],
            [
                dict(
                    type='GaussianBlur',
                    magnitude_range=(0.1, 2.0),
                    magnitude_std='inf',
                    prob=1.0)
            ],
        ]),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3),
    dict(type='PackInputs'),
]
# evaluation at crop ratio 1.0
test_pipeline = [
    dict(t, scale=224) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
