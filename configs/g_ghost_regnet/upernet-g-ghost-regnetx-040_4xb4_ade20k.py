# UperNet with a G-Ghost RegNetX-4.0GF backbone on ADE20K 512x512, 160k
# iterations: our own combination (no official G-GhostNet segmentation
# code), the recipe of upernet-g-ghost-regnetx-032_4xb4_ade20k.py (mmseg's
# ResNet-50 UperNet: SGD lr 0.01 for 4 x 4 images, weight decay 5e-4, poly,
# SyncBN) with the 4.0GF model: stage maps of 80 / 240 / 560 / 1360
# channels.
# Source: mmseg's ResNet-50 UperNet 160k config applied to G-Ghost
# RegNetX-4.0GF (our combination).
_base_ = ['./upernet-g-ghost-regnetx-032_4xb4_ade20k.py']

# ImageNet checkpoint of the backbone (see
# mask-rcnn-g-ghost-regnetx-040_8xb2_coco.py: the official
# g_ghost_regnet_4.0g_78.6.pth)
pretrained = 'pretrain/g_ghost_regnet_4.0g_78.6.pth'
channels = [80, 240, 560, 1360]

model = dict(
    backbone=dict(
        arch='g-ghost-regnetx-040', init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))
