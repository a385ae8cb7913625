# Mask R-CNN 3x with an InternImage-S backbone on COCO (official
# mask_rcnn_internimage_s_fpn_3x_coco.py: 49.7 box / 44.5 mask AP in the
# README): the recipe of mask-rcnn-internimage-t_8xb2-3x_coco.py with
# stochastic depth 0.3 (lr 1e-4, layer decay 1.0 as for T); InternImage-S
# is post-norm with layer scales (loaded from the checkpoint; the official
# layer_scale=1.0 only sets their unused initial value).
# Source: official detection/configs/coco/mask_rcnn_internimage_s_fpn_3x_
# coco.py and detection/README.md.
_base_ = ['./mask-rcnn-internimage-t_8xb2-3x_coco.py']

pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_s_1k_224.pth')
channels = [80, 160, 320, 640]
model = dict(
    backbone=dict(
        arch='internimage-s',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=channels))
