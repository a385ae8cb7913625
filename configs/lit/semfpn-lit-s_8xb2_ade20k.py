# Semantic FPN with a LIT-S backbone on ADE20K 512x512, 80k iterations, as
# the official segmentation config lit_s_fpn_r50_512x512_80k_ade20k.py
# (ziplab/LIT 742e961; 41.7 mIoU in the README): the recipe of
# semfpn-lit-ti_8xb2_ade20k.py with LIT-S (96 / 192 / 384 / 768 channels,
# stochastic depth 0.2, gradient checkpointing as use_checkpoint=True;
# relative-position tables made for 512x512 crops here, resized on load).
# Source: official segmentation/configs/lit/
# lit_s_fpn_r50_512x512_80k_ade20k.py.
_base_ = ['./semfpn-lit-ti_8xb2_ade20k.py']

pretrained = 'pretrain/lit_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LIT',
        arch='lit-s',
        img_size=512,
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))
