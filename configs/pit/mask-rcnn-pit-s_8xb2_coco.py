# Mask R-CNN with a PiT-S backbone on COCO, on the recipe mmdet uses for
# its pyramid backbone ConvNeXt-T (mmdet::convnext/mask-rcnn_convnext-t-p4-
# w7_fpn_amp-ms-crop-3x_coco.py): DETR-style multi-scale + crop
# augmentation, 36 epochs (3x), AdamW lr 1e-4 for 8 x 2 images, weight
# decay 0.05, layer-wise lr decay 0.95 (here over PiT-S's 14 trunk layers:
# 12 blocks and 2 pooling layers, by
# mmvitplug.LayerDecayOptimWrapperConstructor), stochastic depth 0.1 (the
# classification value). The official run uses AMP: add --amp on GPUs.
# Pyramid: PiT's three stage maps (strides 8, 16, 32; 144 / 288 / 576
# channels; the patch tokens without a norm, PiT normalises only its class
# token) go to mmdet's FPN with num_outs=5, so FPN adds the stride-64 and
# stride-128 levels by max-pooling its stride-32 output. PiT has no
# stride-4 map: the RPN runs on strides 8-128 with anchors of scale 4
# (32-512 px, as the standard 8 x strides 4-64) and the RoI extractors read
# strides 8-64. The position embedding is made for 1024 x 1024 (127 x 127
# patches, resized bicubically from the 27 x 27 of a classification
# checkpoint on load) and resized on the fly to each batch's grid; stage 0
# runs global attention over ~16k tokens at this resolution (fused SDPA).
# The class token still joins every stage (its checkpoint key loads); the
# final norm is not built for featmap outputs (reported as unexpected).
# Source: mmdet's ConvNeXt-T Mask R-CNN 3x recipe applied to PiT-S; our
# combination (PiT has no official detection code; the paper's COCO
# number is for Deformable DETR).
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-pit-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official pit_s_809.pth of naver-ai/pit / timm's
# pit_s_224 weights (converted on load).
pretrained = 'pretrain/pit_s_809.pth'
dims = [144, 288, 576]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.PiT',
        arch='pit-s',
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
        custom_keys={
            '.cls_token': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=0.)
        }))
auto_scale_lr = dict(base_batch_size=16, enable=False)
