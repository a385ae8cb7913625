# UperNet with a DHVT-S (patch 16) backbone on ADE20K 512x512, 160k
# iterations. DHVT has no official segmentation code: this is the
# protocol of XCiT's official UperNet code for a plain ViT with a class
# token (our combination): the 4-scale pyramid from blocks [3, 5, 7, 11]
# by mmvitplug.ScalePyramid (strides 4, 8, 16, 32) feeds mmseg's UPerHead,
# the FCN auxiliary head reads stride 16; AdamW lr 6e-5, weight decay 0.01
# except on norms, biases and tokens, 1500 warm-up iterations, poly decay
# (the mmseg Swin UperNet config inherited here), no layer-wise lr decay
# (rate 1.0), stochastic depth 0.1 as DHVT's ImageNet training. Use SyncBN for
# multi-GPU training.
# Source: XCiT's official segmentation config (upernet_xcit_small_12_p16)
# applied to DHVT-S; no official DHVT segmentation recipe.
_base_ = [
    'mmseg::swin/'
    'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone. Placeholder: an mmvitplug checkpoint
# (keys 'backbone.*') or an official one (converted on load; none
# published yet).
pretrained = 'pretrain/dhvt_small_imagenet_patch16.pth'
embed_dims = 384

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DHVT',
        arch='dhvt-s',
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        type='mmvitplug.ScalePyramid',
        in_channels=embed_dims,
        in_stride=16,
        out_strides=(4, 8, 16, 32)),
    decode_head=dict(in_channels=[embed_dims] * 4, num_classes=150),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # its defaults: no decay on norms, biases, the class token and the
    # head-token position embeddings
    paramwise_cfg=dict(layer_decay_rate=1.0))
