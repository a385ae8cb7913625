# Mask R-CNN on a plain (single-scale) backbone, ViTDet-style (Li et al.
# 2022, https://arxiv.org/abs/2203.16527): the stride-16 map of the
# backbone's last block feeds mmvitplug.SimpleFPN (256 channels, 5 levels,
# LayerNorm), the RPN has 2 convolutions, the box head 4 convolutions and
# 1 fc, the box and mask heads normalise with LayerNorm, and batches are
# padded to the fixed 1024x1024 of large-scale jitter. Everything else is
# mmdet's Mask R-CNN (80 COCO classes).
# A config sets model.backbone (type, arch, img_size, out_indices = its
# last block, init_cfg) and the neck's backbone_channel / in_channels.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    data_preprocessor=dict(
        pad_size_divisor=32,
        batch_augments=[
            dict(type='BatchFixedSizePad', size=(1024, 1024), pad_mask=True)
        ]),
    backbone=dict(_delete_=True, out_type='featmap'),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        out_channels=256,
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))
