# UperNet with a CvT-13 backbone on ADE20K 512x512, 160k iterations, on the
# recipe mmseg uses for its pyramid backbone ConvNeXt-T
# (mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py):
# AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05, lr decay 0.9 (here
# layer-wise over CvT's 15 trunk layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), 1500 warm-up iterations,
# poly decay, sliding-window evaluation; stochastic depth 0.1 (the
# classification value, last stage). The official run uses AMP: add --amp
# on GPUs.
# Pyramid: CvT's three stage maps (strides 4, 8, 16; 64 / 192 / 384
# channels) feed mmseg's UPerHead directly (its pyramid pooling runs on
# the stride-16 map; there is no stride-32 level); the FCN auxiliary head
# reads the stride-16 map, as for Swin / ConvNeXt.
# Source: mmseg's ConvNeXt-T UperNet recipe applied to CvT-13; our
# combination (CvT has no official segmentation code or number).
_base_ = [
    'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cvt-13_8xb256_in1k/epoch_300.pth, keys
# 'backbone.*') or the official CvT-13-224x224-IN-1k.pth of microsoft/CvT
# (converted on load).
pretrained = 'pretrain/CvT-13-224x224-IN-1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CvT',
        arch='cvt-13',
        out_type='featmap',
        out_indices=(0, 1, 2),
        drop_path_rate=[0., 0., 0.1],
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[64, 192, 384], in_index=[0, 1, 2]),
    auxiliary_head=dict(in_channels=384, in_index=2))

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
        custom_keys={'.cls_token': dict(decay_mult=0.)}))
