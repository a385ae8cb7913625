# Mask R-CNN with a CvT-13 backbone on COCO, on the recipe mmdet uses for
# its pyramid backbone ConvNeXt-T (mmdet::convnext/mask-rcnn_convnext-t-p4-
# w7_fpn_amp-ms-crop-3x_coco.py): DETR-style multi-scale + crop
# augmentation, 36 epochs (3x), AdamW lr 1e-4 for 8 x 2 images, weight
# decay 0.05, layer-wise lr decay 0.95 (here over CvT's 15 trunk layers,
# by mmvitplug.LayerDecayOptimWrapperConstructor), stochastic depth 0.1
# (the classification value, last stage). The official run uses AMP: add
# --amp on GPUs.
# Pyramid: CvT's three stage maps (strides 4, 8, 16; 64 / 192 / 384
# channels; no final norm on them) go to mmdet's FPN with num_outs=5, so
# FPN adds the stride-32 and stride-64 levels by max-pooling its
# stride-16 output (the RoI extractor reads strides 4-32, the RPN 4-64).
# The class token is still built and joins the last stage (its checkpoint
# key loads); the final norm is not built for featmap outputs (reported
# as unexpected).
# Source: mmdet's ConvNeXt-T Mask R-CNN 3x recipe applied to CvT-13; our
# combination (CvT has no official detection code or number).
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
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
    neck=dict(in_channels=[64, 192, 384], num_outs=5))

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
        custom_keys={'.cls_token': dict(decay_mult=0.)}))
auto_scale_lr = dict(base_batch_size=16, enable=False)
