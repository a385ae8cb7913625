# UperNet with a RevCol-B backbone on ADE20K 512x512, 160k iterations
# (official upernet_revcol_base_fp16_512x512_160k_ade20k.py: 49.0 mIoU,
# 50.1 multi-scale): the recipe of upernet-revcol-t_8xb2_ade20k.py with
# lr 4e-5 (stochastic depth 0.3 as for T).
# Source: official RevCol segmentation config (upernet_revcol_base_fp16_
# 512x512_160k_ade20k.py).
_base_ = ['./upernet-revcol-t_8xb2_ade20k.py']

pretrained = 'pretrain/revcol_base_1k.pth'
channels = [72, 144, 288, 576]
model = dict(
    backbone=dict(arch='revcol-b', init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))
optim_wrapper = dict(optimizer=dict(lr=4e-5))
