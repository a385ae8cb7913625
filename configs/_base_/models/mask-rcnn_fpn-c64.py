# Mask R-CNN on a pyramid backbone with mmdet's FPN, scaled down for the
# bundled shapes (128x128 images, shapes of 13-70 px) trained from scratch
# on CPU: a 64-channel FPN (num_outs=5: the levels above the backbone's
# last one by max-pooling), mmdet's light 2-fc box head, a 2-conv
# 32-channel mask head with LayerNorm, anchors of 16-256 px on strides
# 4-64, fewer RoIs and proposals. Bundled-data smoke model, not a paper
# recipe. A config sets model.backbone (type, arch, out_indices; featmap
# outputs), the neck's in_channels and the number of classes; a backbone
# whose first map is not at stride 4 also sets the anchor and RoI strides
# (PiT). mask-rcnn_simplefpn-c64.py swaps the neck for SimpleFPN.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

channels = 64
norm_cfg = dict(type='mmvitplug.LN2d', eps=1e-6)

model = dict(
    backbone=dict(_delete_=True, out_type='featmap'),
    neck=dict(out_channels=channels, num_outs=5),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # shapes are 13-70 px: anchors of 16..256 px on strides 4..64
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2,
            in_channels=channels,
            conv_out_channels=32,
            norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(max_per_img=20)))
