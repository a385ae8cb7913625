# Convnet TEACHER on the bundled digits (10 classes, 32x32): ResNet-18 at
# half width (stem and base channels 32; _teachers/resnet18-w32_digits.py).
# Its stride-4 stem brings the 4x-upsampled digits back to their native 8x8
# grid, so it trains in well under a CPU minute. Its last checkpoint
# (work_dirs/sup-resnet18-w32_1xb64_digits/epoch_6.pth) is the teacher of
# the bundled distillation configs. SGD with Nesterov momentum, lr 0.1,
# cosine over 6 epochs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
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
