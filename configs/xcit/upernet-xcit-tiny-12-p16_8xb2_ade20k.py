# UperNet with an XCiT-T12/16 backbone on ADE20K 512x512, 160k iterations,
# as the official semantic segmentation code
# (https://arxiv.org/abs/2106.09681, Sec. 4.3; official
# semantic_segmentation/configs/xcit/upernet/
# upernet_xcit_tiny_12_p16_160k_ade20k.py, 41.5 mIoU): the 4-scale pyramid
# of the paper from XCiT layers [3, 5, 7, 11] by mmvitplug.ScalePyramid
# (strides 4, 8, 16, 32) feeds mmseg's UPerHead; the FCN auxiliary head
# reads stride 16. AdamW lr 6e-5, weight decay 0.01 except on LayerNorms,
# linear warm-up of 1500 iterations, poly decay: the mmseg Swin UperNet
# config inherited here is the same recipe. No layer-wise lr decay (rate
# 1.0), as the official code. Use SyncBN (conv_norm_cfg / norm_cfg) for
# multi-GPU training, as the official runs.
# Source: official XCiT segmentation config (upernet_xcit_tiny_12_p16).
_base_ = [
    'mmseg::swin/'
    'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone. Placeholder: an mmvitplug checkpoint
# (keys 'backbone.*') or the official
# https://dl.fbaipublicfiles.com/xcit/xcit_tiny_12_p16_224.pth (converted on
# load).
pretrained = 'pretrain/xcit_tiny_12_p16_224.pth'
embed_dims = 192

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvitplug.XCiT',
        arch='xcit-tiny-12-p16',
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        type='mmvitplug.ScalePyramid',
        in_channels=embed_dims,
        in_stride=16,
        out_strides=(4, 8, 16, 32)),
    decode_head=dict(in_channels=[embed_dims] * 4, num_classes=150),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: no decay on parameters named '*norm*' only
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={
            'norm': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=1.),
        }))
