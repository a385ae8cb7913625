# Mask R-CNN with a GhostNetV2 1.0x backbone on COCO, 1x schedule: our own
# combination (no official GhostNetV2 detection code or config exists),
# the recipe of mask-rcnn-ghostnet-1.0x_8xb2_coco.py (mmdet's ResNet-50
# Mask R-CNN 1x: SGD lr 0.02 for 8 x 2 images, weight decay 1e-4, 12
# epochs; BN frozen, stem and stages 0-2 frozen) with the DFC-attention
# backbone; the same pyramid (stages 2, 4, 6, 9: 24 / 40 / 112 / 960
# channels).
# Source: mmdet's ResNet-50 Mask R-CNN 1x config applied to GhostNetV2 1.0x
# (our combination).
_base_ = ['./mask-rcnn-ghostnet-1.0x_8xb2_coco.py']

# ImageNet checkpoint of the backbone: an mmvitplug checkpoint (keys
# 'backbone.*') or the official GhostNetV2-1.0 release (a timm
# checkpoint: its 'state_dict' is loaded, converted on load):
# https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/
# GhostNetV2/ck_ghostnetv2_10.pth.tar
pretrained = 'pretrain/ck_ghostnetv2_10.pth.tar'

model = dict(
    backbone=dict(
        arch='ghostnetv2-1.0x',
        init_cfg=dict(checkpoint=pretrained)))
