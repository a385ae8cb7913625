# Mask R-CNN 3x with an XCiT-T12/16 backbone on COCO, as the official
# detection code (https://arxiv.org/abs/2106.09681, Sec. 4.3; official
# detection/configs/xcit/mask_rcnn_xcit_tiny_12_p16_3x_coco.py, 42.7 box /
# 38.5 mask AP): the 4-scale pyramid of the paper is built from XCiT layers
# [3, 5, 7, 11] (all at stride 16) by mmvitplug.ScalePyramid (2 deconvs
# with a norm and GELU between / 1 deconv / identity / 2x2 max pooling ->
# strides 4, 8, 16, 32), then mmdet's FPN (256 channels, 5 levels) and the
# standard Mask R-CNN heads. DETR-style multi-scale + crop augmentation,
# AdamW lr 1e-4 (batch 16), weight decay 0.05 except on LayerNorms, 36
# epochs with steps at 27 and 33: the mmdet Swin 3x config inherited here
# is the same recipe (the official XCiT configs were adapted from Swin's).
# No layer-wise lr decay (rate 1.0), as the official code. The official
# runs use SyncBN in the backbone and the pyramid and mixed precision: set
# conv_norm_cfg / norm_cfg to SyncBN for multi-GPU training, and use
# tools/train.py --amp. The class token and class-attention layers are not
# built for dense outputs (their checkpoint keys are reported unexpected).
# Source: official XCiT detection config (mask_rcnn_xcit_tiny_12_p16_3x).
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone. Placeholder: an mmvitplug checkpoint
# (e.g. work_dirs/sup-xcit-tiny-12-p16_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one,
# https://dl.fbaipublicfiles.com/xcit/xcit_tiny_12_p16_224.pth (converted on
# load). The Fourier position encoding is computed for every input grid.
pretrained = 'pretrain/xcit_tiny_12_p16_224.pth'
embed_dims = 192

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.XCiT',
        arch='xcit-tiny-12-p16',
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(
            type='mmvitplug.ScalePyramid',
            in_channels=embed_dims,
            in_stride=16,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[embed_dims] * 4,
            out_channels=256,
            num_outs=5),
    ])

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: no decay on parameters named '*norm*' only
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={
            'norm': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=1.),
        }))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
