# Mask R-CNN 3x with a DHVT-S (patch 16) backbone on COCO. DHVT has no
# official detection code: this is the protocol of XCiT's official
# detection code for a plain ViT with a class token (our combination): the
# 4-scale pyramid from blocks [3, 5, 7, 11] (all at stride 16) by
# mmvitplug.ScalePyramid (2 deconvs / 1 deconv / identity / 2x2 max
# pooling -> strides 4, 8, 16, 32), then mmdet's FPN (256 channels, 5
# levels) and the standard heads; DETR-style multi-scale + crop
# augmentation, AdamW lr 1e-4 (batch 16), weight decay 0.05 except on
# norms, biases and tokens, 36 epochs with steps at 27 and 33 (the mmdet
# Swin 3x config inherited here), no layer-wise lr decay (rate 1.0) and
# stochastic depth 0.1 as DHVT's ImageNet training. DHVT has no position
# embedding, so any input size works; attention is global over the
# stride-16 tokens. The last block's class-token excitation is not built
# for dense outputs (its checkpoint keys are reported unexpected). Use
# SyncBN (conv_norm_cfg / norm_cfg of the pyramid) for multi-GPU training.
# Source: XCiT's official detection config (mask_rcnn_xcit_small_12_p16_3x)
# applied to DHVT-S; no official DHVT detection recipe.
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone. Placeholder: an mmvitplug checkpoint
# (e.g. work_dirs/sup-dhvt-s_2xb128_in1k/epoch_300.pth, keys 'backbone.*')
# or an official one (converted on load; none published yet).
pretrained = 'pretrain/dhvt_small_imagenet_patch16.pth'
embed_dims = 384

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DHVT',
        arch='dhvt-s',
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1,
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
    # its defaults: no decay on norms, biases, the class token and the
    # head-token position embeddings
    paramwise_cfg=dict(layer_decay_rate=1.0))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
