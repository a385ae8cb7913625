# Mask R-CNN with a G-Ghost RegNetX-3.2GF backbone on COCO, 1x schedule:
# our own combination (no official G-GhostNet detection code or config
# exists). mmdet's ResNet-50 Mask R-CNN 1x recipe
# (mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py) with G-Ghost RegNet in
# place of the ResNet, treated as mmdet treats a pretrained CNN backbone:
# SGD lr 0.02 for 8 GPUs x 2 images, momentum 0.9, weight decay 1e-4 on
# every parameter, 500 linear warm-up iterations from lr x 0.001, lr x 0.1
# at epochs 8 and 11 of 12, single-scale 1333x800; BN frozen (norm_eval)
# and the stem and first stage frozen (frozen_stages=1, as ResNet's). No
# layer-wise lr decay (rate 1.0), no stochastic depth (none in the model).
# Pyramid: the four stage maps (strides 4, 8, 16, 32; 96 / 192 / 432 /
# 1008 channels) go to mmdet's FPN.
# Source: mmdet's ResNet-50 Mask R-CNN 1x config applied to G-Ghost
# RegNetX-3.2GF (our combination).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone: an mmvitplug checkpoint (keys
# 'backbone.*') or the official release (converted on load):
# https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/
# g_ghost_regnet/g_ghost_regnet_3.2g_77.8.pth
pretrained = 'pretrain/g_ghost_regnet_3.2g_77.8.pth'
channels = [96, 192, 432, 1008]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.GGhostRegNet',
        arch='g-ghost-regnetx-032',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=channels))

# mmdet's SGD (weight decay on every parameter, as for its ResNets),
# through the layer-decay constructor at rate 1.0 (no decay)
optim_wrapper = dict(
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=1.0, norm_decay_mult=1.0, flat_decay_mult=1.0))
