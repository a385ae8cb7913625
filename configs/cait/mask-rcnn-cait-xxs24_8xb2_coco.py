# Mask R-CNN with a CaiT-XXS24 backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), as configs/deit/mask-rcnn-deit-small_*
# (_base_/models/mask-rcnn_simplefpn.py,
# _base_/common/vitdet_lsj-100e_coco-instance.py):
# the single stride-16 map of the last self-attention block (after the final
# norm) feeds mmvitplug.SimpleFPN, heads use LayerNorm, large-scale jitter at
# 1024x1024, AdamW with layer-wise lr decay 0.7, 100 epochs (25 x 4
# repeats). The class token and class-attention blocks are not built for
# featmap outputs (their checkpoint keys are reported as unexpected).
# Talking-heads attention materialises the (heads, 4096, 4096) attention of
# the 64x64 grid in every block (no fused kernel applies), so gradient
# checkpointing is on: without it a 2-image batch keeps ~40 GB of
# attention maps for the backward pass.
# Source: the ViTDet recipe applied to CaiT-XXS24; our combination (no
# published number).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cait-xxs24_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/XXS24_224.pth (converted on load).
# The 14x14 position embedding is resized to 64x64.
pretrained = 'pretrain/XXS24_224.pth'
embed_dims = 192

model = dict(
    backbone=dict(
        type='mmvitplug.CaiT',
        arch='cait-xxs24',
        img_size=_base_.image_size,
        out_indices=(23, ),
        drop_path_rate=0.05,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims,
                     embed_dims]))
