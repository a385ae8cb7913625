# The digits ResNet-18 recipe that the bundled convnet baselines share:
# ResNet-18 at half width (stem and base channels 32;
# _teachers/resnet18-w32_digits.py) trained from scratch on the bundled
# digits with mmpretrain's CrossEntropyLoss: batch 64, shifts of up to 2
# pixels (_base_/datasets/digits.py), SGD with Nesterov momentum, lr 0.1,
# weight decay 5e-4, cosine over 6 epochs. Its stride-4 stem brings the
# 4x-upsampled digits back to their native 8x8 grid, so it trains in well
# under a CPU minute.
_base_ = [
    '../datasets/digits.py',
    '../default_runtime.py',
    '../../_teachers/resnet18-w32_digits.py',
]

# the teacher classifier, trained with softmax cross-entropy
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
