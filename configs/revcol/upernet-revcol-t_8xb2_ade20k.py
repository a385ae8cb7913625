# UperNet with a RevCol-T backbone on ADE20K 512x512, 160k iterations, as
# the official segmentation code (https://arxiv.org/abs/2212.11696;
# official Segmentation/configs/revcol/upernet_revcol_tiny_fp16_512x512_
# 160k_ade20k.py: 47.4 mIoU, 47.6 multi-scale): the 4 levels of the last
# column (plain columns, as officially) into UPerHead, the FCN auxiliary
# head on level 2; AdamW lr 6e-5, weight decay 0.01 except on 1-D tensors,
# biases and the shortcuts alpha, no layer-wise decay (rate 1.0),
# stochastic depth 0.3, 1500 linear warm-up iterations from 1e-6 of the lr,
# poly decay to 0, sliding-window evaluation, mixed precision: the mmseg
# ConvNeXt-T UperNet config inherited here, with the official optimizer.
# Source: official RevCol segmentation config (upernet_revcol_tiny_fp16_
# 512x512_160k_ade20k.py).
_base_ = ['mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-'
          '512x512.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone: an mmvitplug checkpoint (keys
# 'backbone.*') or the official revcol_tiny_1k.pth (converted on load)
pretrained = 'pretrain/revcol_tiny_1k.pth'
channels = [64, 128, 256, 512]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.RevCol',
        arch='revcol-t',
        out_indices=(0, 1, 2, 3),
        reversible=False,
        drop_path_rate=0.3,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=channels, num_classes=150),
    auxiliary_head=dict(in_channels=channels[2], num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        custom_keys={'.alpha': dict(decay_mult=0.)}),
    loss_scale='dynamic')
