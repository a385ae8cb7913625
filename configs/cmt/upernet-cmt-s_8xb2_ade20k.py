# UperNet with a CMT-S backbone on ADE20K 512x512, 160k iterations, on the
# recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over CMT-S's 29 trunk layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up iterations,
# poly decay, sliding-window evaluation (512x512 crops); stochastic depth
# 0.1 (the classification value). The backbone's BatchNorms become SyncBN
# (2 images per GPU). Test images are padded to a multiple of 32 (CMT's
# stride), the padding is removed from the predictions. The official run
# uses AMP: add --amp on GPUs.
# Pyramid: CMT's four stage maps (strides 4, 8, 16, 32; 64 / 128 / 256 /
# 512 channels) feed mmseg's UPerHead directly; the FCN auxiliary head
# reads the stride-16 map, as for Swin / ConvNeXt. The position biases
# (learned at 224) are resized to each input's grids on the fly.
# Source: mmseg's ConvNeXt-T UperNet recipe applied to CMT-S; our
# combination (the CMT paper has no segmentation result or recipe).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cmt-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official cmt_small.pth of ggjy/CMT.pytorch release-v1
# (converted on load).
pretrained = 'pretrain/cmt_small.pth'

model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CMT',
        arch='cmt-s',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.9, norm_decay_mult=0., bias_decay_mult=0.))
