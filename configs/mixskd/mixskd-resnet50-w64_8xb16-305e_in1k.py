# MixSKD (Yang et al., ECCV 2022, https://arxiv.org/abs/2208.05768):
# self-knowledge distillation from Mixup images, the official ImageNet
# ResNet-50 recipe (official README: 78.76% top-1).
# - network: torchvision's ResNet-50 (mmpretrain's ResNet, the same
#   layout), 3 auxiliary branches after stages 1-3 (fresh copies of the
#   later stages + fc), the self-teacher head on the 4 last maps
#   (mmvitplug.MixSKDClassifier); only the plain ResNet-50 is deployed;
# - losses: mmvitplug.MixSKDLoss (the official ImageNet script's terms,
#   all weights 1, KL at T 3), discriminators registered and trained,
#   adversarially (the official ones are never optimised);
# - Mixup alpha 0.2, one ratio and permutation per batch (per GPU);
# - SGD lr 0.1, momentum 0.9 (no Nesterov), weight decay 1e-4 (every
#   parameter) for a total batch of 128 (the official script divides its
#   --batch-size 128 over the 8 GPUs); 305 epochs: 5 of linear warm-up
#   by iteration from lr / (5 x 10010 iterations per epoch), then
#   lr x 0.5 (1 + cos(pi (epoch - 5) / 305)) set once per epoch (the
#   official schedule never reaches 0);
# - data: RandomResizedCrop 224 + flip; evaluation: resize to 256, centre
#   crop 224 (torchvision's transforms, as officially).
# Source: winycg/Self-KD-Lib main_mixskd_imagenet.py,
# scripts/main_mixskd_imagenet.sh, models/resnet_imagenet_mixskd.py
# (commit ede3062), README.md.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.MixSKDClassifier',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048),
    alpha=0.2,
    loss=dict(type='mmvitplug.MixSKDLoss', tau=3.0))

train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=16)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1 / (5 * 10010), by_epoch=True,
        begin=0, end=5, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', T_max=305, by_epoch=True, begin=5,
        end=305),
]
train_cfg = dict(by_epoch=True, max_epochs=305, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128, enable=True)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2))
