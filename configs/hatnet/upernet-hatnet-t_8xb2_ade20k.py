# UperNet with a HAT-Net-T backbone on ADE20K 512x512, 160k iterations, on
# the recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over HAT-Net-T's 16 trunk layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up iterations,
# poly decay, sliding-window evaluation; stochastic depth 0.1 (the
# classification value). The run uses AMP: add --amp on GPUs.
# Pyramid: HAT-Net-T's four stage maps (strides 4-32) feed mmseg's
# UPerHead; the FCN auxiliary head reads the stride-16 map, as for Swin /
# ConvNeXt.
# Source: mmseg's ConvNeXt-T UperNet recipe applied to HAT-Net-T; our
# combination (HAT-Net's paper reports Semantic FPN:
# semfpn-hatnet-t_8xb4_ade20k.py).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone (see the Mask R-CNN config).
pretrained = 'pretrain/HAT-Net_Tiny.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.HATNet',
        arch='hatnet-t',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[48, 96, 240, 384]),
    auxiliary_head=dict(in_channels=240))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        norm_decay_mult=0.,
        bias_decay_mult=0.))
