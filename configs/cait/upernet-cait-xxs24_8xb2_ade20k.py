# UperNet on a CaiT-XXS24 backbone for ADE20K 512x512, 160k iterations, as
# configs/deit/upernet-deit-small_*: the single stride-16 map of the last
# self-attention block (after the final norm) feeds mmvitplug.SimpleFPN
# (ViTDet, https://arxiv.org/abs/2203.16527) whose four levels (strides 4, 8,
# 16, 32) go to mmseg's UPerHead; an FCN auxiliary head reads stride 16.
# AdamW with layer-wise lr decay 0.65 as in BEiT/MAE segmentation. The class
# token and class-attention blocks are not built for featmap outputs.
_base_ = '../deit/upernet-deit-small_8xb2_ade20k.py'

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cait-xxs24_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/XXS24_224.pth (converted on load).
# The 14x14 position embedding is resized to 32x32.
pretrained = 'pretrain/XXS24_224.pth'
embed_dims = 192

model = dict(
    backbone=dict(
        type='mmvitplug.CaiT',
        arch='cait-xxs24',
        out_indices=(23, ),
        drop_path_rate=0.05,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims))
