# MixSKD (Yang et al., ECCV 2022, https://arxiv.org/abs/2208.05768) at
# digits scale, convnet version: the digits ResNet-18-w32 (stem and base
# channels 32) with 3 auxiliary branches after stages 1-3 and the
# self-teacher head (mmvitplug.MixSKDClassifier), trained from scratch on
# each batch and its Mixup (alpha 0.4, as the official CIFAR recipe) with
# mmvitplug.MixSKDLoss (all weights 1, KL at T 3, adversarial
# discriminators). Evaluated: the plain ResNet-18-w32 (predict_with
# 'final'; 'ensemble' evaluates the self-teacher head).
# Everything else is the baseline's
# (sup-resnet18-w32_1xb64-6e_digits.py: the same network with CE + Mixup):
# batch 64, SGD with Nesterov momentum, lr 0.1, weight decay 5e-4, one
# warm-up epoch, cosine to epoch 6, gradients clipped to norm 5 (without
# the warm-up and clipping, MixSKD diverges at lr 0.1), shifts of up to 2
# pixels.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-resnet18-w32_1xb64-6e_digits.py']

model = dict(
    _delete_=True,
    type='mmvitplug.MixSKDClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=32, base_channels=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=256),
    alpha=0.4,
    loss=dict(type='mmvitplug.MixSKDLoss', tau=3.0))
