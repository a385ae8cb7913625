# UperNet with a PiT-S backbone on ADE20K 512x512, 160k iterations, on the
# recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over PiT-S's 14 trunk layers: 12 blocks and 2 pooling layers,
# by mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up
# iterations, poly decay, sliding-window evaluation (512 x 512 windows);
# stochastic depth 0.1 (the classification value). The official run uses
# AMP: add --amp on GPUs.
# Pyramid: PiT's three stage maps (strides 8, 16, 32; 144 / 288 / 576
# channels; patch tokens without a norm, PiT normalises only its class
# token; the heads' lateral convolutions carry BN) feed mmseg's UPerHead
# directly (its pyramid pooling runs on the stride-32 map; no stride-4
# level); the FCN auxiliary head reads the stride-16 map, as for Swin /
# ConvNeXt. The position embedding is made for 512 x 512 (63 x 63
# patches, resized bicubically from a 224 checkpoint's 27 x 27 on load).
# Source: mmseg's ConvNeXt-T UperNet recipe applied to PiT-S; our
# combination (PiT has no official segmentation code or number).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-pit-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official pit_s_809.pth of naver-ai/pit / timm's
# pit_s_224 weights (converted on load).
pretrained = 'pretrain/pit_s_809.pth'
crop_size = (512, 512)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.PiT',
        arch='pit-s',
        img_size=crop_size,
        out_type='featmap',
        out_indices=(0, 1, 2),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[144, 288, 576], in_index=[0, 1, 2]),
    auxiliary_head=dict(in_channels=288, in_index=1))

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
        custom_keys={
            '.cls_token': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=0.)
        }))
