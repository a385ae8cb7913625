# Mask R-CNN 3x with an XCiT-S24/16 backbone on COCO, as the official
# detection code (official detection/configs/xcit/
# mask_rcnn_xcit_small_24_p16_3x_coco.py): the recipe of
# mask-rcnn-xcit-tiny-12-p16_8xb2_coco.py with the 24-layer pyramid taps,
# layers [7, 11, 15, 23] (all at stride 16) -> mmvitplug.ScalePyramid
# (strides 4, 8, 16, 32) -> FPN, 384 channels, stochastic depth 0.1.
# Source: official XCiT detection config (mask_rcnn_xcit_small_24_p16_3x).
_base_ = ['./mask-rcnn-xcit-tiny-12-p16_8xb2_coco.py']

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
    neck=[
        dict(
            type='mmvitplug.ScalePyramid',
            in_channels=embed_dims,
            in_stride=16,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[embed_dims] * 4,
            out_channels=256,
            num_outs=5),
    ])
