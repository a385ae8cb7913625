# UperNet on ADE20K 512x512, 160k iterations, with Arch-Net's ResNet-18
# student as the backbone (mmvitplug.ArchNetResNet: 2-bit 3x3 convolutions,
# 4-bit activations, concatenations instead of additions), fine-tuned with
# its quantisers on: our own combination (Arch-Net has no segmentation
# code or config). mmseg's ResNet-50 UperNet recipe
# (mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py) with the student
# in place of the ResNet: SGD lr 0.01 for 4 GPUs x 4 images, momentum 0.9,
# weight decay 5e-4 on every parameter, poly decay (power 0.9) to 1e-4,
# SyncBN trained, whole-image evaluation. The four stage maps (strides
# 4-32; 64 / 128 / 256 / 512 channels) feed UPerHead, the FCN auxiliary
# head reads the stride-16 map.
# Source: mmseg's ResNet-50 UperNet 160k config applied to the Arch-Net
# student (our combination).
_base_ = ['mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the student distilled by archnet-resnet18_8xb32_in1k.py (keys 'backbone.*')
pretrained = 'work_dirs/archnet-resnet18_8xb32_in1k/iter_173120.pth'
channels = [64, 128, 256, 512]

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvitplug.ArchNetResNet',
        arch='resnet18',
        w_bits=2,
        a_bits=4,
        out_indices=(0, 1, 2, 3),
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
