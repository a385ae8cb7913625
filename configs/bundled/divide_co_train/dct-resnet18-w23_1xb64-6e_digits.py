# Divide and Co-training (Zhao et al., TIP 2022,
# https://arxiv.org/abs/2011.14660) at digits scale, convnet version: the
# digits ResNet-18-w32 of sup-resnet18-w32_1xb64-6e_digits.py (stem and
# base channels 32; 2.801M parameters with its head) divided into S = 2
# ResNet-18s of width 32 / sqrt(2) = 22.6 -> 23 (stem and base channels
# 23, as the official code divides a ResNet's inplanes; 2.899M parameters
# in all, +3.5%: 22 would give -5.3%), trained together from scratch
# (mmvitplug.MutualClassifier, students net0 / net1):
# - each net sees its own random 2-pixel shift of every image (MultiView of
#   the digits crop, the official is_diff_data_train); Mixup (alpha 0.2)
#   mixes both views with one draw;
# - loss: the sum of the nets' cross-entropies on their (mixed) views +
#   w x the generalised Jensen-Shannon divergence of their softmaxes
#   (mmvitplug.JSDivergenceLoss), w = 0.5 x max(epoch / 3, 0.01) before
#   epoch 3 = half of training (ImageNet's 60 of 120 epochs), then 0.5;
# - weight decay 5e-4 x exp(1 / S - 1) (the official is_div_wd division);
# - prediction: the mean of the two nets' logits.
# Everything else is the baseline's: batch 64, SGD with Nesterov momentum,
# lr 0.1, cosine over 6 epochs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
]

num_students = 2
# the digits ResNet-18 at width 32 / sqrt(2), rounded to 23
student = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=23, base_channels=23),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=8 * 23))
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

# the digits shifts of up to 2 pixels, one per net
crop = dict(type='RandomCrop', crop_size=32, padding=2)
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=num_students, transforms=[[crop]]),
        dict(type='PackInputs'),
    ]))

epochs = 6
# the official weight-decay division: wd x exp(1 / S - 1)
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9,
        weight_decay=5e-4 * 0.6065306597126334, nesterov=True))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, begin=0, end=epochs,
    convert_to_iter_based=True)
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
custom_hooks = [
    dict(
        type='mmvitplug.LossWeightScheduleHook', loss='loss_cot',
        start_factor=0., end_factor=1., end=epochs // 2, min_factor=0.01)
]

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
