# UperNet with a GhostNetV2 1.0x backbone on ADE20K 512x512, 160k
# iterations: our own combination (no official GhostNetV2 segmentation
# code or config exists), the recipe of upernet-ghostnet-1.0x_4xb4_ade20k.py
# (mmseg's ResNet-50 UperNet: SGD lr 0.01 for 4 x 4 images, weight decay
# 5e-4, poly, SyncBN) with the DFC-attention backbone; the same pyramid
# (stages 2, 4, 6, 9: 24 / 40 / 112 / 960 channels).
# Source: mmseg's ResNet-50 UperNet 160k config applied to GhostNetV2 1.0x
# (our combination).
_base_ = ['./upernet-ghostnet-1.0x_4xb4_ade20k.py']

# ImageNet checkpoint of the backbone (see
# mask-rcnn-ghostnetv2-1.0x_8xb2_coco.py: the official ck_ghostnetv2_10)
pretrained = 'pretrain/ck_ghostnetv2_10.pth.tar'

model = dict(
    backbone=dict(
        arch='ghostnetv2-1.0x',
        init_cfg=dict(checkpoint=pretrained)))
