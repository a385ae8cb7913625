# UperNet with an XCiT-S24/16 backbone on ADE20K 512x512, 160k iterations,
# as the official semantic segmentation code (official
# semantic_segmentation/configs/xcit/upernet/
# upernet_xcit_small_24_p16_160k_ade20k.py): the recipe of
# upernet-xcit-tiny-12-p16_8xb2_ade20k.py with the 24-layer pyramid taps,
# layers [7, 11, 15, 23] -> mmvitplug.ScalePyramid (strides 4, 8, 16, 32)
# -> UPerHead, 384 channels, stochastic depth 0.1.
# Source: official XCiT segmentation config (upernet_xcit_small_24_p16).
_base_ = ['./upernet-xcit-tiny-12-p16_8xb2_ade20k.py']

# ImageNet checkpoint of the backbone (placeholder; an mmvitplug checkpoint
# or the official https://dl.fbaipublicfiles.com/xcit/
# xcit_small_24_p16_224.pth, converted on load)
pretrained = 'pretrain/xcit_small_24_p16_224.pth'
embed_dims = 384

model = dict(
    backbone=dict(
        arch='xcit-small-24-p16',
        out_indices=(7, 11, 15, 23),
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims))
