# Mask R-CNN with Arch-Net's DeiT-S student (mmvitplug.ArchNetViT: 2-bit LSQ
# weights, 4-bit LSQ activations, BatchNorm for LayerNorm) as a plain
# backbone, ViTDet-style (Li et al. 2022, https://arxiv.org/abs/2203.16527),
# fine-tuned with its quantisers on: the recipe of
# configs/deit/mask-rcnn-deit-small_8xb2_coco.py (the single stride-16 map
# of the last block feeds mmvitplug.SimpleFPN, heads use LayerNorm,
# large-scale jitter at 1024x1024, AdamW with layer-wise lr decay 0.7, 100
# epochs: 25 x 4 repeats; _base_/models/mask-rcnn_simplefpn.py and
# _base_/common/vitdet_lsj-100e_coco-instance.py) with the Arch-Net student
# in place of the DeiT. 8 GPUs x 2 images.
# Source: the ViTDet paper's recipe for plain ViTs; the Arch-Net student on
# it is our combination (Arch-Net has no detection code or config).
_base_ = [
    '../_base_/models/mask-rcnn_simplefpn.py',
    '../_base_/common/vitdet_lsj-100e_coco-instance.py',
]

# the student distilled by archnet-deit-small_8xb32_in1k.py (keys
# 'backbone.*'); its 14x14 position embedding is resized to 64x64
pretrained = 'work_dirs/archnet-deit-small_8xb32_in1k/iter_169280.pth'

model = dict(
    backbone=dict(
        type='mmvitplug.ArchNetViT',
        arch='deit-small',
        img_size=_base_.image_size,
        w_bits=2,
        a_bits=4,
        out_indices=(11, ),
        drop_path_rate=0.1,
        with_cp=False,  # True trades compute for memory at 1024x1024
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(backbone_channel=384, in_channels=[96, 192, 384, 384]))
