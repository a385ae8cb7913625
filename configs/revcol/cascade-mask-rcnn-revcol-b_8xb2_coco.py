# Cascade Mask R-CNN 3x with a RevCol-B backbone on COCO (official
# cascade_mask_rcnn_revcol_base_3x_in1k.py: 53.0 box / 45.9 mask AP): the
# recipe of cascade-mask-rcnn-revcol-t_8xb2_coco.py with stochastic depth
# 0.4 and layer decay 0.9.
# Source: official RevCol detection config (cascade_mask_rcnn_revcol_base_
# 3x_in1k.py).
_base_ = ['./cascade-mask-rcnn-revcol-t_8xb2_coco.py']

pretrained = 'pretrain/revcol_base_1k.pth'
channels = [72, 144, 288, 576]
model = dict(
    backbone=dict(
        arch='revcol-b',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=channels))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
