# UperNet with a RevCol-S backbone on ADE20K 512x512, 160k iterations
# (official upernet_revcol_small_fp16_512x512_160k_ade20k.py: 47.9 mIoU,
# 49.0 multi-scale): the recipe of upernet-revcol-t_8xb2_ade20k.py with
# lr 4e-5 (stochastic depth 0.3 as for T).
# Source: official RevCol segmentation config (upernet_revcol_small_fp16_
# 512x512_160k_ade20k.py).
_base_ = ['./upernet-revcol-t_8xb2_ade20k.py']

pretrained = 'pretrain/revcol_small_1k.pth'
model = dict(
    backbone=dict(arch='revcol-s', init_cfg=dict(checkpoint=pretrained)))
optim_wrapper = dict(optimizer=dict(lr=4e-5))
