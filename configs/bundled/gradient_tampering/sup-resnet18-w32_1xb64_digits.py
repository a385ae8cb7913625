# The cross-entropy baseline of softmax gradient tampering at digits scale,
# convnet version: ResNet-18 at half width (stem and base channels 32, as
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py) trained from scratch
# with mmpretrain's CrossEntropyLoss: batch 64, shifts of up to 2 pixels,
# SGD with Nesterov momentum, lr 0.1, weight decay 5e-4, cosine over 6
# epochs. sgt-resnet18-w32_1xb64_digits.py changes only the loss.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/resnet18-w32_digits.py',
]

model = dict(
    _base_.teacher,
    head=dict(
        _base_.teacher.head,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, begin=0, end=6,
    convert_to_iter_based=True)
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
