# Mask R-CNN with an SReT-S backbone on COCO, on the recipe mmdet uses for
# its pyramid backbone ConvNeXt-T (mmdet::convnext/mask-rcnn_convnext-t-p4-
# w7_fpn_amp-ms-crop-3x_coco.py): DETR-style multi-scale + crop
# augmentation, 36 epochs (3x), AdamW lr 1e-4 for 8 x 2 images, weight
# decay 0.05, layer-wise lr decay 0.95 (here over SReT-S's 12 trunk
# layers: 10 recursive units and 2 pooling layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), stochastic depth 0.1 (the
# classification value). The run uses AMP: add --amp on GPUs.
# Pyramid: SReT's three stage maps (strides 8, 16, 32; 126 / 252 / 504
# channels) go to mmdet's FPN with num_outs=5 (stride-64 and -128 levels
# by max-pooling); the RPN runs on strides 8-128 with anchors of scale 4
# and the RoI extractors read strides 8-64, as for PiT. The position
# embedding is made for 1024 x 1024 (resized bicubically from a 224
# checkpoint on load, then to each batch's grid); sliced attention pads
# and masks the slices at any sequence length.
# Source: mmdet's ConvNeXt-T Mask R-CNN 3x recipe applied to SReT-S; our
# combination (SReT has no official detection code).
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: an mmvitplug
# checkpoint (keys 'backbone.*') or the official SReT_S.pth (converted on
# load; its norm is reported unused: featmap outputs build none).
pretrained = 'pretrain/SReT_S.pth'
dims = [126, 252, 504]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.SReT',
        arch='sret-s',
        img_size=1024,
        out_type='featmap',
        out_indices=(0, 1, 2),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=dims, num_outs=5),
    rpn_head=dict(
        anchor_generator=dict(scales=[4], strides=[8, 16, 32, 64, 128])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[8, 16, 32, 64]),
        mask_roi_extractor=dict(featmap_strides=[8, 16, 32, 64])))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.95,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'.pos_embed': dict(decay_mult=0.)}))
auto_scale_lr = dict(base_batch_size=16, enable=False)
