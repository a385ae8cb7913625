# PAWS (semi-supervised, Assran et al. 2021) on the bundled digits with 5
# labelled images per class (50 of the 1438 training images, chosen with
# seed 0): the 4-block DeiT of sup-deit-4l192d-p8_1xb16_digits.py,
# projection 192-192-128, prediction head, 2 large (32 px) + 2 small (16 px)
# views of every unlabelled image (official: 6 small; 2 to fit a CPU
# budget), support batches of 10 classes x 5 images x 1 view (all 50
# labelled images, reshuffled), 10 epochs (440 steps). Evaluate with
# snn-deit-4l192d-p8_1xb128_digits-5shot.py (soft nearest neighbours
# against the same 50 labelled images) and
# ../deit/knn-deit-4l192d-p8_1xb128_digits.py (k-NN, all training labels);
# the baseline trained on the 50 labels only is
# sup-deit-4l192d-p8_1xb16_digits-5shot.py.
# Source: bundled-data smoke config, not a paper recipe; the views, support
# batch layout, label smoothing 0.1, tau 0.1, T 0.25 and me-max follow the
# official CIFAR-10 config (facebookresearch/suncet
# configs/paws/cifar10_train.yaml: crops (0.75, 1) and (0.3, 0.75), colour
# distortion 0.5 with solarize / equalize), without flips (they change
# digits); AdamW instead of LARS for the small transformer.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

labels_per_class = 5
label_seed = 0

colour = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter', brightness=0.4, contrast=0.4,
                saturation=0.4, hue=0.1)
        ],
        prob=0.8),
    dict(type='Solarize', thr=128, prob=0.2),
    dict(type='Equalize', prob=0.2),
]
large_view = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.75, 1.0)),
] + colour
small_view = [
    dict(type='RandomResizedCrop', scale=16, crop_ratio_range=(0.3, 0.75)),
] + colour

train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(
        type='mmvitplug.PAWSBatchSampler',
        classes_per_batch=10,
        samples_per_class=5,
        unique_classes=False),
    dataset=dict(
        type='mmvitplug.PAWSDataset',
        unlabeled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            metainfo={{_base_.metainfo}},
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='MultiView',
                    num_views=[2, 2],
                    transforms=[large_view, small_view]),
                dict(type='PackInputs'),
            ]),
        support=dict(
            type='mmvitplug.LabeledSubset',
            num_per_class=labels_per_class,
            seed=label_seed,
            dataset=dict(
                type={{_base_.dataset_type}},
                data_root={{_base_.data_root}},
                split='train',
                metainfo={{_base_.metainfo}},
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(
                        type='MultiView', num_views=1,
                        transforms=[large_view]),
                    dict(type='PackInputs'),
                ]))))

model = dict(
    type='mmvitplug.PAWS',
    data_preprocessor=dict(
        type='mmvitplug.PAWSDataPreprocessor',
        mean={{_base_.data_preprocessor.mean}},
        std={{_base_.data_preprocessor.std}},
        to_rgb=True),
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    neck=dict(
        type='NonLinearNeck',
        in_channels=192,
        hid_channels=192,
        out_channels=128,
        num_layers=3,
        with_bias=True,
        with_last_bias=True,
        with_last_bn=False,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d')),
    head=dict(
        type='mmvitplug.PAWSHead',
        in_channels=128,
        with_predictor=True,
        loss=dict(
            type='mmvitplug.PAWSLoss', tau=0.1, sharpen_temperature=0.25,
            me_max=True)),
    label_smoothing=0.1)

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=10, convert_to_iter_based=True),
]
# pretraining only: evaluate with the snn / knn configs
train_cfg = dict(_delete_=True, by_epoch=True, max_epochs=10)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
default_hooks = dict(logger=dict(interval=10))
