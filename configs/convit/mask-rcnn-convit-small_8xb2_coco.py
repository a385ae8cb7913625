# Mask R-CNN with a ConViT-S backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527), as configs/deit/mask-rcnn-deit-small_*
# (_base_/models/mask-rcnn_simplefpn.py,
# _base_/common/vitdet_lsj-100e_coco-instance.py): the single stride-16
# map of the patch tokens of the last block (after the final norm; the
# class token, which joins before block 10, is dropped) feeds
# mmvitplug.SimpleFPN, heads use LayerNorm, large-scale jitter at
# 1024x1024, AdamW with layer-wise lr decay 0.7 (the class token has the
# depth of block 10), 100 epochs (25 x 4 repeats). ConViT has no
# official detection code. The 14x14 position embedding is resized to
# 64x64 and the GPSA relative indices are made for the 64x64 grid. Each
# GPSA block keeps a (9, 4096, 4096) positional attention for the backward
# pass (0.6 GB, shared by the batch), so gradient checkpointing is on.
# 8 GPUs x 2 images.
# Source: the ViTDet recipe applied to ConViT-S; our combination (no
# published number).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-convit-small_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/convit/convit_small.pth (converted on load).
pretrained = 'pretrain/convit_small.pth'
embed_dims = 432

model = dict(
    backbone=dict(
        type='mmvitplug.ConViT',
        arch='convit-small',
        img_size=_base_.image_size,
        out_indices=(11, ),
        drop_path_rate=0.1,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims,
                     embed_dims]))
