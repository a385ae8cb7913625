# UperNet with a GhostNet 1.0x backbone on ADE20K 512x512, 160k
# iterations: our own combination (no official GhostNet segmentation code
# or config exists). mmseg's ResNet-50 UperNet recipe
# (mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py) with GhostNet in
# place of the ResNet, as mmseg trains a pretrained CNN backbone: SGD lr
# 0.01 for 4 GPUs x 4 images, momentum 0.9, weight decay 5e-4 on every
# parameter, poly decay (power 0.9) to 1e-4, SyncBN trained (no frozen
# stages, no norm_eval), whole-image evaluation. No layer-wise lr decay
# (rate 1.0), no stochastic depth (GhostNet has none).
# Pyramid: the ends of stages 2, 4, 6 and 9 (strides 4, 8, 16, 32; 24 /
# 40 / 112 / 960 channels) feed UPerHead, the FCN auxiliary head reads the
# stride-16 map.
# Source: mmseg's ResNet-50 UperNet 160k config applied to GhostNet 1.0x
# (our combination).
_base_ = ['mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone (see
# mask-rcnn-ghostnet-1.0x_8xb2_coco.py: the official state_dict_73.98.pth)
pretrained = 'pretrain/state_dict_73.98.pth'
channels = [24, 40, 112, 960]

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvitplug.GhostNet',
        arch='ghostnet-1.0x',
        out_indices=(2, 4, 6, 9),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))

# mmseg's SGD (weight decay on every parameter), through the layer-decay
# constructor at rate 1.0 (no decay)
optim_wrapper = dict(
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=1.0, norm_decay_mult=1.0, flat_decay_mult=1.0))
