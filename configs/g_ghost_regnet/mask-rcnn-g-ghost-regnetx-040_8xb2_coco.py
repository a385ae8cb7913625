# Mask R-CNN with a G-Ghost RegNetX-4.0GF backbone on COCO, 1x schedule:
# our own combination (no official G-GhostNet detection code), the recipe
# of mask-rcnn-g-ghost-regnetx-032_8xb2_coco.py (mmdet's ResNet-50 Mask
# R-CNN 1x: SGD lr 0.02 for 8 x 2 images, weight decay 1e-4, 12 epochs; BN,
# stem and first stage frozen) with the 4.0GF model: stage maps of 80 / 240
# / 560 / 1360 channels into the FPN.
# Source: mmdet's ResNet-50 Mask R-CNN 1x config applied to G-Ghost
# RegNetX-4.0GF (our combination).
_base_ = ['./mask-rcnn-g-ghost-regnetx-032_8xb2_coco.py']

# ImageNet checkpoint of the backbone: the official release
# https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/
# g_ghost_regnet/g_ghost_regnet_4.0g_78.6.pth (converted on load)
pretrained = 'pretrain/g_ghost_regnet_4.0g_78.6.pth'
channels = [80, 240, 560, 1360]

model = dict(
    backbone=dict(
        arch='g-ghost-regnetx-040', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=channels))
