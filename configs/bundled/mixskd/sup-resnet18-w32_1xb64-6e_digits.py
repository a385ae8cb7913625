# The baseline of MixSKD at digits scale, convnet version: the digits
# ResNet-18-w32 (stem and base channels 32, as
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py) trained alone with
# cross-entropy and Mixup (alpha 0.4, the paper's "CE + Mixup"), with the
# schedule of mixskd-resnet18-w32_1xb64-6e_digits.py: batch 64, SGD with
# Nesterov momentum, lr 0.1, weight decay 5e-4, one epoch of linear
# warm-up from lr / 100, cosine to epoch 6, gradients clipped to norm 5,
# shifts of up to 2 pixels. (The warm-up and clipping are MixSKD's needs:
# without them its self-teacher head, a 1x1 conv without normalisation,
# diverges at lr 0.1 in the second epoch; the official recipes warm up for
# 5 epochs, thousands of iterations.)
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=32, base_channels=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.4)))

epochs = 6
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', by_epoch=True, begin=1, end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
