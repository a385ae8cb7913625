# UperNet with an SReT-S backbone on ADE20K 512x512, 160k iterations, on
# the recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over SReT-S's 12 trunk layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up iterations,
# poly decay, sliding-window evaluation; stochastic depth 0.1 (the
# classification value). The run uses AMP: add --amp on GPUs.
# Pyramid: SReT's three stage maps (strides 8, 16, 32) feed mmseg's
# UPerHead directly (no stride-4 level); the FCN auxiliary head reads the
# stride-16 map. The position embedding is made for 512 x 512 (resized
# bicubically from a 224 checkpoint on load).
# Source: mmseg's ConvNeXt-T UperNet recipe applied to SReT-S; our
# combination (SReT has no official segmentation code).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

pretrained = 'pretrain/SReT_S.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.SReT',
        arch='sret-s',
        img_size=512,
        out_type='featmap',
        out_indices=(0, 1, 2),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[126, 252, 504], in_index=[0, 1, 2]),
    auxiliary_head=dict(in_channels=252, in_index=1))

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
        custom_keys={'.pos_embed': dict(decay_mult=0.)}))
