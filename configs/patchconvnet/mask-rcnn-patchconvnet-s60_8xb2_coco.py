# Mask R-CNN with a PatchConvNet-S60 backbone (arXiv 2112.13692)
# ViTDet-style (https://arxiv.org/abs/2203.16527), as
# configs/deit/mask-rcnn-deit-small_* (_base_/models/mask-rcnn_simplefpn.py,
# _base_/common/vitdet_lsj-100e_coco-instance.py): the single stride-16 map of
# the last trunk block feeds mmvitplug.SimpleFPN, heads use LayerNorm,
# large-scale jitter at 1024x1024, AdamW with layer-wise lr decay, 100 epochs
# (25 x 4 repeats). The trunk normalises with LayerNorm (official weights),
# so small per-GPU batches are fine; a BatchNorm trunk
# (backbone.norm_cfg=dict(type='SyncBN')) would need SyncBN here. The
# attention-based aggregation is not built for dense outputs: its checkpoint
# weights are reported as unexpected keys on load.
# Source: the ViTDet recipe applied to PatchConvNet-S60 (layer decay
# 0.95 is ours); no published number.
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-patchconvnet-s60_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/s60_224_1k.pth (converted on load).
pretrained = 'pretrain/s60_224_1k.pth'
embed_dims = 384

model = dict(
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        out_type='featmap',
        out_indices=(59, ),
        drop_path_rate=0.1,
        with_cp=True,  # 60 blocks at 64x64 tokens: trade compute for memory
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims,
                     embed_dims]))

# 62 depths (stem, 60 blocks, rest): decay 0.95 per block leaves the stem at
# 0.95^61 ~ 4% of the head lr.
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))
