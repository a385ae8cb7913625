# Mask R-CNN 1x with an InternImage-B backbone on COCO (official
# mask_rcnn_internimage_b_fpn_1x_coco.py: 48.8 box / 44.0 mask AP in the
# README): the recipe of mask-rcnn-internimage-t_8xb2-1x_coco.py with
# stochastic depth 0.4 (lr 1e-4, layer decay 1.0 as for T); InternImage-B
# is post-norm with layer scales (loaded from the checkpoint; the official
# layer_scale=1.0 only sets their unused initial value).
# Source: official detection/configs/coco/mask_rcnn_internimage_b_fpn_1x_
# coco.py and detection/README.md.
_base_ = ['./mask-rcnn-internimage-t_8xb2-1x_coco.py']

pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_b_1k_224.pth')
channels = [112, 224, 448, 896]
model = dict(
    backbone=dict(
        arch='internimage-b',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=channels))
