# Divide and Co-training (Zhao et al., TIP 2022,
# https://arxiv.org/abs/2011.14660) at digits scale: the wide DeiT of
# sup-deit-4l192d-p8_1xb16-30e_digits.py (4 blocks of 192 dims, 3 heads of
# 64, MLP 768, patch 8; 1.822M parameters with its head) divided into S = 2
# narrower DeiTs trained together from scratch (mmvitplug.MutualClassifier,
# students net0 / net1):
# - width 192 / sqrt(2) = 135.8 -> 136 dims with 2 heads of 68 (MLP 544):
#   the head dimension stays near the wide net's 64 (3 heads would give 45
#   at 135 dims); the two nets have 1.850M parameters in all, +1.5% on the
#   wide net (the official divisions land within a few % too);
# - each net sees its own random-resized crop of every image (MultiView,
#   the official is_diff_data_train), and Mixup (the official alpha 0.2)
#   mixes both views with ONE draw (mmvitplug.MultiViewClsDataPreprocessor;
#   the official mixes once for all nets);
# - loss: the cross-entropy of each net on its own (mixed) view, summed, +
#   w x the generalised Jensen-Shannon divergence of the nets' softmaxes
#   (H(mean p) - mean H(p), mmvitplug.JSDivergenceLoss), w = cot_weight 0.5
#   warmed up as the official max(0.5 x epoch / E, 0.005) before epoch E,
#   E = 15 = half of training (ImageNet's 60 of 120 epochs;
#   mmvitplug.LossWeightScheduleHook with min_factor 0.01);
# - weight decay divided by the official rule (parser_params.py, is_div_wd):
#   wd x exp(1 / S - 1) = 0.05 x exp(-0.5);
# - prediction: the mean of the two nets' logits (the official ensemble).
# Everything else is the baseline's: the same crops (35-100% of the area, no
# flips: they change digits), Mixup 0.2, batch 16, AdamW lr 5e-4, 1 warm-up
# epoch + cosine to epoch 30.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

num_students = 2
# the digits DeiT at width 192 / sqrt(2), rounded to 2 heads of 68
student = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=136, num_layers=4, num_heads=2,
            feedforward_channels=544),
        img_size=32,
        patch_size=8),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=136,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
model = dict(
    type='mmvitplug.MutualClassifier',
    students=dict(net0=student, net1=student),
    distiller=dict(
        recorders=dict(
            net0=dict(source='students.net0.head.fc'),
            net1=dict(source='students.net1.head.fc')),
        losses=dict(
            loss_ce_net0=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_ce_net1=dict(type='CrossEntropyLoss', loss_weight=1.0),
            # cot_weight 0.5, scheduled by the hook below
            loss_cot=dict(type='mmvitplug.JSDivergenceLoss', loss_weight=0.5)),
        loss_inputs=dict(
            loss_ce_net0=dict(cls_score='net0', label='targets'),
            loss_ce_net1=dict(cls_score='net1', label='targets'),
            loss_cot=dict(logits=['net0', 'net1']))),
    predict_with='ensemble',
    ensemble='logits',
)
data_preprocessor = dict(
    type='mmvitplug.MultiViewClsDataPreprocessor',
    batch_augments=dict(augments=[dict(type='Mixup', alpha=0.2)]))

# crops keeping 35-100% of the area (the digits have no room for the
# official 10%), no flips; one per net
crop = dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.35, 1.))
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=num_students, transforms=[[crop]]),
        dict(type='PackInputs'),
    ]))

epochs = 30
# the official weight-decay division: wd x exp(1 / S - 1)
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.05 * 0.6065306597126334))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
# the co-training weight: 0.5 x max(epoch / 15, 0.01) before epoch 15
custom_hooks = [
    dict(
        type='mmvitplug.LossWeightScheduleHook', loss='loss_cot',
        start_factor=0., end_factor=1., end=epochs // 2, min_factor=0.01)
]
default_hooks = dict(logger=dict(interval=30))
