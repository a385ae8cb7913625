# UperNet with a LIT-S backbone on ADE20K 512x512, 160k iterations, on the
# recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over LIT-S's 15 trunk layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up iterations,
# poly decay, sliding-window evaluation; stochastic depth 0.2 (the
# classification value), relative-position tables made for the 512x512
# crops (resized on load). The official run uses AMP: add --amp on GPUs.
# Pyramid: LIT-S's four stage maps (strides 4-32, stages 1-3 through their
# output norms) feed mmseg's UPerHead; the FCN auxiliary head reads the
# stride-16 map, as for Swin / ConvNeXt.
# Source: mmseg's ConvNeXt-T UperNet recipe applied to LIT-S; our
# combination (the official LIT segmentation code is Semantic FPN 80k on
# mmseg 0.13, 41.7 mIoU: semfpn-lit-s_8xb2_ade20k.py).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone (see the Mask R-CNN config).
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
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))
