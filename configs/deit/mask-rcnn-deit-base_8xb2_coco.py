# Mask R-CNN with a plain DeiT-B backbone, ViTDet-style; see
# mask-rcnn-deit-small_8xb2_coco.py for the recipe.
# Source: the ViTDet recipe (see mask-rcnn-deit-small_8xb2_coco.py); DeiT-B
# on it is our combination (no published number).
_base_ = './mask-rcnn-deit-small_8xb2_coco.py'

# Placeholder, as in the DeiT-S config: an mmvitplug classification
# checkpoint or the official
# https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth
pretrained = 'pretrain/deit_base_patch16_224-b5f2ef4d.pth'

model = dict(
    backbone=dict(
        arch='deit-base',
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(backbone_channel=768, in_channels=[192, 384, 768, 768]))
