# Supervised baseline of paws-deit-4l192d-p8_1xb32_digits-5shot.py: the
# same 4-layer DeiT trained on the same 5 labelled images per class (seed
# 0) only, with the augmentation of PAWS' large views, for 470 steps
# (PAWS: 440); validation top-1 on the digits every epoch. Evaluate the
# backbone with snn-deit-4l192d-p8_1xb128_digits-5shot.py and
# ../deit/knn-deit-4l192d-p8_1xb128_digits.py like the PAWS one.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

labels_per_class = 5
label_seed = 0

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=10,  # 500 images an epoch, 31 steps
        dataset=dict(
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
                        type='RandomResizedCrop', scale=32,
                        crop_ratio_range=(0.75, 1.0)),
                    dict(
                        type='RandomApply',
                        transforms=[
                            dict(
                                type='ColorJitter', brightness=0.4,
                                contrast=0.4, saturation=0.4, hue=0.1)
                        ],
                        prob=0.8),
                    dict(type='Solarize', thr=128, prob=0.2),
                    dict(type='Equalize', prob=0.2),
                    dict(type='PackInputs'),
                ]))))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=10))
