# Mask R-CNN with a CCT-14/7x2 backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), as configs/cait/mask-rcnn-cait-xxs24_*
# (_base_/models/mask-rcnn_simplefpn.py,
# _base_/common/vitdet_lsj-100e_coco-instance.py): the single stride-16
# token map of the last CCT layer (the 7x7 stride-2 conv + max-pool
# tokenizer twice gives stride 16; after the final norm) feeds
# mmvitplug.SimpleFPN (strides 4..64), heads use LayerNorm, large-scale
# jitter at 1024x1024, AdamW with layer-wise lr decay 0.7, 100 epochs
# (25 x 4 repeats). The sequence pooling is not built for featmap outputs
# (its checkpoint keys are reported as unexpected). Attention is global
# over the 64x64 grid through the fused kernel (no (4096, 4096) map kept).
# Source: the ViTDet recipe applied to CCT-14/7x2; our combination (CCT has
# no published detection result).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cct-14-7x2_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official one from https://shi-labs.com/projects/cct/
# checkpoints/pretrained/cct_14_7x2_224_imagenet.pth (converted on load).
# The 14x14 position embedding is resized (bilinear) to 64x64.
pretrained = 'pretrain/cct_14_7x2_224_imagenet.pth'
embed_dims = 384

model = dict(
    backbone=dict(
        type='mmvitplug.CCT',
        arch='cct-14-7x2',
        img_size=_base_.image_size,
        out_indices=(13, ),
        attn_drop_rate=0.1,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims,
                     embed_dims]))
