# PAWS (Assran et al. 2021, https://arxiv.org/abs/2104.13963) on ImageNet
# with 10% of the labels: ResNet-50 + 3-layer projection (2048) +
# prediction head, 100 epochs.
# Source: official configs/paws/imgnt_train.yaml (facebookresearch/suncet
# @731547d; its unlabeled_frac 0.9 = 10% labels) and src/paws_train.py /
# src/data_manager.py: 64 GPUs x (64 unlabelled images with 2 large views
# at 224 px, scale (0.14, 1), + 6 small at 96 px, scale (0.05, 0.14); 15
# classes x 7 labelled images x 1 view, different classes on every GPU);
# colour distortion 1.0 (jitter 0.8/0.8/0.8/0.2 p 0.8, grey p 0.2), blur
# p 0.5, flips; label smoothing 0.1, tau 0.1, T 0.25, me-max; LARS
# (trust 0.001, biases and BN excluded, no weight decay on them), momentum
# 0.9, weight decay 1e-6, lr 0.3 -> 6.4 over 10 warm-up epochs then cosine
# to 0.064 at epoch 100. The 64-GPU total (4096 unlabelled images) is the
# lr's reference batch. The official labelled images are the file
# imagenet_subsets/90percent.txt of the official repository (not shipped
# here: put it at data/imagenet/paws_subsets/). Official differences kept
# out: fp16 (add --amp), apex SyncBN (here mmengine SyncBN).
_base_ = ['../_base_/default_runtime.py']

dataset_type = 'ImageNet'
data_root = 'data/imagenet'
subset_file = 'data/imagenet/paws_subsets/90percent.txt'

# ImageNet-1k statistics and classes (the model's preprocessor below)
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def _view(size, crop_ratio_range):
    return [
        dict(
            type='RandomResizedCrop',
            scale=size,
            crop_ratio_range=crop_ratio_range,
            backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='RandomApply',
            transforms=[
                dict(
                    type='ColorJitter', brightness=0.8, contrast=0.8,
                    saturation=0.8, hue=0.2)
            ],
            prob=0.8),
        dict(
            type='RandomGrayscale',
            prob=0.2,
            keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989)),
        dict(
            type='GaussianBlur',
            magnitude_range=(0.1, 2.0),
            magnitude_std='inf',
            prob=0.5),
    ]


large_view = _view(224, (0.14, 1.0))
small_view = _view(96, (0.05, 0.14))

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(
        type='mmvitplug.PAWSBatchSampler',
        classes_per_batch=15,
        samples_per_class=7,
        unique_classes=True),
    dataset=dict(
        type='mmvitplug.PAWSDataset',
        unlabeled=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='MultiView',
                    num_views=[2, 6],
                    transforms=[large_view, small_view]),
                dict(type='PackInputs'),
            ]),
        support=dict(
            type='mmvitplug.LabeledSubset',
            subset_file=subset_file,
            dataset=dict(
                type=dataset_type,
                data_root=data_root,
                split='train',
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    *large_view,
                    dict(type='PackInputs'),
                ]))))

model = dict(
    type='mmvitplug.PAWS',
    data_preprocessor=dict(
        type='mmvitplug.PAWSDataPreprocessor',
        mean=data_preprocessor['mean'],
        std=data_preprocessor['std'],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        base_channels=64,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_bias=True,
        with_last_bias=True,
        with_last_bn=False,
        with_avg_pool=False,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='mmvitplug.PAWSHead',
        in_channels=2048,
        with_predictor=True,
        norm_cfg=dict(type='SyncBN'),
        loss=dict(
            type='mmvitplug.PAWSLoss', tau=0.1, sharpen_temperature=0.25,
            me_max=True)),
    label_smoothing=0.1)

# biases and batch norms: no LARS adaptation, no weight decay (official)
no_lars = dict(decay_mult=0, lars_exclude=True)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS', lr=6.4, momentum=0.9, weight_decay=1e-6, eta=0.001),
    paramwise_cfg=dict(
        custom_keys={
            'bn': no_lars,
            'bias': no_lars,
            'downsample.1': no_lars,
            'head.predictor.0': no_lars,
            'head.predictor.2': no_lars,
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.3 / 6.4, by_epoch=True, begin=0,
        end=10, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=0.064, by_epoch=True, begin=10,
        end=100, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(base_batch_size=4096)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
