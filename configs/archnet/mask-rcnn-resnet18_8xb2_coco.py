# Mask R-CNN on COCO, 1x schedule, with Arch-Net's ResNet-18 student as the
# backbone (mmvitplug.ArchNetResNet: 2-bit 3x3 convolutions, 4-bit
# activations, concatenations instead of additions), fine-tuned with its
# quantisers on (quantisation-aware, straight-through gradients): our own
# combination (Arch-Net has no detection code or config). mmdet's ResNet-50
# Mask R-CNN 1x recipe (mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py) with
# the student in place of the ResNet, treated as mmdet treats a pretrained
# CNN backbone: SGD lr 0.02 for 8 GPUs x 2 images, momentum 0.9, weight
# decay 1e-4 on every parameter, 500 linear warm-up iterations, lr x 0.1 at
# epochs 8 and 11 of 12, single-scale 1333x800; BN frozen (norm_eval) and
# the stem and first stage frozen (frozen_stages=1, as ResNet's). The four
# stage maps (strides 4-32; 64 / 128 / 256 / 512 channels, 16-level
# activations) go to mmdet's FPN (full precision).
# Source: mmdet's ResNet-50 Mask R-CNN 1x config applied to the Arch-Net
# student (our combination).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the student distilled by archnet-resnet18_8xb32_in1k.py (keys 'backbone.*')
pretrained = 'work_dirs/archnet-resnet18_8xb32_in1k/iter_173120.pth'
channels = [64, 128, 256, 512]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.ArchNetResNet',
        arch='resnet18',
        w_bits=2,
        a_bits=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=channels))

# mmdet's SGD (weight decay on every parameter, as for its ResNets),
# through the layer-decay constructor at rate 1.0 (no decay)
optim_wrapper = dict(
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=1.0, norm_decay_mult=1.0, flat_decay_mult=1.0))
