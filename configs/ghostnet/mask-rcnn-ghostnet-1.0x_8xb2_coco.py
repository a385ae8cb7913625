# Mask R-CNN with a GhostNet 1.0x backbone on COCO, 1x schedule: our own
# combination (no official GhostNet detection code or config exists; the
# paper reports RetinaNet / Faster R-CNN on COCO, which we do not
# reproduce). mmdet's ResNet-50 Mask R-CNN 1x recipe
# (mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py) with GhostNet in place
# of the ResNet, treated as mmdet treats a pretrained CNN backbone: SGD lr
# 0.02 for 8 GPUs x 2 images, momentum 0.9, weight decay 1e-4 on every
# parameter, 500 linear warm-up iterations from lr x 0.001, lr x 0.1 at
# epochs 8 and 11 of 12, single-scale 1333x800; BN statistics and affine
# parameters frozen (norm_eval) and the layers up to the first FPN level
# frozen, as ResNet's frozen_stages=1: GhostNet's stem and stages 0-2
# (frozen_stages=3). No layer-wise lr decay (none in the papers; rate 1.0),
# no stochastic depth (GhostNet has none).
# Pyramid: the ends of stages 2, 4, 6 and 9 (strides 4, 8, 16, 32; 24 /
# 40 / 112 / 960 channels) go to mmdet's FPN.
# Source: mmdet's ResNet-50 Mask R-CNN 1x config applied to GhostNet 1.0x
# (our combination).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone: an mmvitplug checkpoint (keys
# 'backbone.*') or the official state_dict_73.98.pth
# (huawei-noah/Efficient-AI-Backbones ghostnet_pytorch/models/, 73.98
# top-1), or timm's ghostnet_100 weights (converted on load).
pretrained = 'pretrain/state_dict_73.98.pth'
channels = [24, 40, 112, 960]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.GhostNet',
        arch='ghostnet-1.0x',
        out_indices=(2, 4, 6, 9),
        frozen_stages=3,
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
