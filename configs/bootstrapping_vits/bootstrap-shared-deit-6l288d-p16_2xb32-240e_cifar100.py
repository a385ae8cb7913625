# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), shared mode, on
# CIFAR-100 from scratch: bootstrap-joint-deit-6l288d-p16_2xb32-240e_
# cifar100.py with the agent CNN made of the ViT's weights
# (model.share_weights: block i's 3x3 convolution is W_o^h W_v^h of the ViT
# block's attention for its 9 heads, its MLP the ViT's; the CNN keeps its
# BatchNorms, input projection and head) and the shared weights: CE 0.5 +
# 0.5, KD 0.5 + 0.5, hint 5. 75.50 top-1 for the ViT in the official
# README.
# Source: official zhfeing/Bootstrapping-ViTs-pytorch
# config/cifar100/shared/agent-small-vit-small.yaml.
_base_ = ['./bootstrap-joint-deit-6l288d-p16_2xb32-240e_cifar100.py']

model = dict(
    students=dict(cnn=dict(backbone=dict(shared=True, conv_type='heads'))),
    share_weights=dict(cnn='vit'),
    distiller=dict(
        losses=dict(
            loss_cls_vit=dict(loss_weight=0.5),
            loss_cls_cnn=dict(loss_weight=0.5),
            loss_kd_vit=dict(loss_weight=0.5),
            loss_kd_cnn=dict(loss_weight=0.5),
            loss_hint=dict(loss_weight=5.0))))
