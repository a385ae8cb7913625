# Cascade Mask R-CNN 3x with a RevCol-S backbone on COCO (official
# cascade_mask_rcnn_revcol_small_3x_in1k.py: 52.6 box / 45.5 mask AP): the
# recipe of cascade-mask-rcnn-revcol-t_8xb2_coco.py with stochastic depth
# 0.4 (layer decay 0.85 as for T).
# Source: official RevCol detection config (cascade_mask_rcnn_revcol_small_
# 3x_in1k.py).
_base_ = ['./cascade-mask-rcnn-revcol-t_8xb2_coco.py']

pretrained = 'pretrain/revcol_small_1k.pth'
model = dict(
    backbone=dict(
        arch='revcol-s',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)))
