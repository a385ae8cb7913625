# MixSKD (Yang et al., ECCV 2022, https://arxiv.org/abs/2208.05768):
# self-knowledge distillation from Mixup images, the official CIFAR-100
# ResNet-18 recipe (paper / official README: 80.32% top-1 vs 76.24% for the
# same network trained with cross-entropy).
# - network: the CIFAR ResNet-18 (3x3 stride-1 stem, no max pooling;
#   mmpretrain's ResNet_CIFAR, which has a ReLU after the stem that the
#   official network lacks), 3 auxiliary branches after stages 1-3 (fresh
#   copies of the later stages + fc), the self-teacher head on the 4 last
#   maps (mmvitplug.MixSKDClassifier); only the plain ResNet-18 is
#   deployed and evaluated;
# - losses: mmvitplug.MixSKDLoss in the official ImageNet formulation, all
#   weights 1, KL at T 3: the official CIFAR script never adds its Mixup CE
#   (so its self-teacher head never trains) and never trains its
#   discriminators; ours are registered and trained, adversarially;
# - Mixup alpha 0.4 (CIFAR), one ratio and permutation per batch;
# - SGD lr 0.1, Nesterov momentum 0.9, weight decay 5e-4 (every
#   parameter), batch 64, 205 epochs: 5 epochs of linear warm-up from
#   lr / (5 x iterations per epoch), then x0.1 at epochs 105 and 155 (the
#   official milestones 100 / 150 count after the warm-up);
# - data: random 32x32 crops with 4-pixel padding, horizontal flips,
#   normalised with the CIFAR-100 statistics.
# Source: winycg/Self-KD-Lib main_mixskd_cifar.py, models/resnet_mixskd.py
# (commit ede3062), README.md.
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.MixSKDClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=512),
    alpha=0.4,
    loss=dict(type='mmvitplug.MixSKDLoss', tau=3.0))

# mmpretrain's CIFAR-100 data (random 32x32 crops with 4-pixel padding,
# flips) normalised with the official statistics
# Normalize((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
data_preprocessor = dict(
    mean=[129.304, 124.1085, 112.404], std=[68.2125, 65.4075, 70.4055])
train_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True)
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(data_root='data/cifar100'))
val_evaluator = dict(topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
# 50000 / 64 = 781 iterations per epoch: the official warm-up starts at
# lr x 1 / (5 x 781)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1 / (5 * 781), by_epoch=True, begin=0,
        end=5, convert_to_iter_based=True),
    dict(
        type='MultiStepLR', by_epoch=True, begin=5, end=205,
        milestones=[100, 150], gamma=0.1),
]
train_cfg = dict(by_epoch=True, max_epochs=205, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64, enable=True)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2))
