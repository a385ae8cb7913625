# Mask R-CNN with a LeViT-128S backbone on COCO. LeViT's stages are at
# strides 16, 32 and 64; the pyramid built here adds the activated stem
# maps at strides 4 and 8 (after the stem's second and third 3x3 stride-2
# conv + BN, 32 and 64 channels: `stem_out_strides=(4, 8)`), so mmdet's
# FPN gets five maps at strides 4, 8, 16, 32, 64 (channels 32, 64, 128,
# 256, 384) and the standard Mask R-CNN heads (anchors on strides 4-64, RoI
# pooling on 4-32) apply unchanged. The attention-bias tables learned on
# 224 (14x14 tokens) are resized on load to the 1024x1024 grid (64x64) and
# on the fly for other sizes. Data and schedule: the ViTDet large-scale
# jitter recipe of _base_/common/vitdet_lsj-100e_coco-instance.py (AdamW
# lr 1e-4 at batch 64, weight decay 0.1), with a milder layer-wise lr decay
# (0.9: the trunk has 11 layers, not ViT-B's 12 blocks of 768 channels).
# Source: our combination (LeViT has no released detection recipe).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: an mmvitplug
# checkpoint (keys 'backbone.*'), the official
# https://dl.fbaipublicfiles.com/LeViT/LeViT-128S-96703c44.pth or timm's
# levit_128s weights (both converted on load).
pretrained = 'pretrain/LeViT-128S-96703c44.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LeViT',
        arch='levit-128s',
        img_size=_base_.image_size,
        out_type='featmap',
        out_indices=(0, 1, 2),
        stem_out_strides=(4, 8),
        drop_path_rate=0.,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[32, 64, 128, 256, 384], num_outs=5))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
