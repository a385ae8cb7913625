# Mask R-CNN with a plain DeiT-S backbone, ViTDet-style (Li et al. 2022,
# https://arxiv.org/abs/2203.16527): the single stride-16 map of the last
# block feeds mmvitplug.SimpleFPN, heads use LayerNorm, large-scale jitter at
# 1024x1024, AdamW with layer-wise lr decay 0.7, 100 epochs (25 x 4
# repeats): _base_/models/mask-rcnn_simplefpn.py and
# _base_/common/vitdet_lsj-100e_coco-instance.py. 8 GPUs x 2 images.
# Source: the ViTDet paper's recipe for plain ViTs (its drop path 0.1 for
# ViT-B); DeiT-S on it is our combination (no published number).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-deit-small_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth
# (converted on load). The 14x14 position embedding is resized to 64x64.
pretrained = 'pretrain/deit_small_patch16_224-cd65a155.pth'

model = dict(
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-small',
        img_size=_base_.image_size,
        out_indices=(11, ),
        drop_path_rate=0.1,
        with_cp=False,  # True trades compute for memory at 1024x1024
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(backbone_channel=384, in_channels=[96, 192, 384, 384]))
