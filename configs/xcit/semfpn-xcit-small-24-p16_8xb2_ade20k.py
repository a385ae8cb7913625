# Semantic FPN with an XCiT-S24/16 backbone on ADE20K 512x512, 80k
# iterations, as the official semantic segmentation code (official
# semantic_segmentation/configs/xcit/sem_fpn/
# sem_fpn_xcit_small_24_p16_80k_ade20k.py, 44.6 mIoU): the recipe of
# semfpn-xcit-tiny-12-p16_8xb2_ade20k.py with the 24-layer pyramid taps,
# layers [7, 11, 15, 23] -> mmvitplug.ScalePyramid -> FPN (384 -> 384
# channels) -> FPNHead, stochastic depth 0.1.
# Source: official XCiT segmentation config (sem_fpn_xcit_small_24_p16_80k).
_base_ = ['./semfpn-xcit-tiny-12-p16_8xb2_ade20k.py']

# ImageNet checkpoint of the backbone (placeholder; an mmvitplug checkpoint
# or the official https://dl.fbaipublicfiles.com/xcit/
# xcit_small_24_p16_224.pth / _384_dist.pth, converted on load)
pretrained = 'pretrain/xcit_small_24_p16_224.pth'
embed_dims = 384

model = dict(
    backbone=dict(
        arch='xcit-small-24-p16',
        out_indices=(7, 11, 15, 23),
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),
    neck=[
        dict(
            type='mmvitplug.ScalePyramid',
            in_channels=embed_dims,
            in_stride=16,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[embed_dims] * 4,
            out_channels=embed_dims,
            num_outs=4),
    ],
    decode_head=dict(in_channels=[embed_dims] * 4))
