# UperNet on a plain DeiT-B backbone for ADE20K 512x512, 160k iterations;
# see upernet-deit-small_8xb2_ade20k.py for the recipe.
# Source: the BEiT / MAE ADE20K recipe (see
# upernet-deit-small_8xb2_ade20k.py); DeiT-B on it is our combination (no
# published number).
_base_ = './upernet-deit-small_8xb2_ade20k.py'

# Placeholder, as in the DeiT-S config: an mmvitplug classification
# checkpoint or the official
# https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth
pretrained = 'pretrain/deit_base_patch16_224-b5f2ef4d.pth'
embed_dims = 768

model = dict(
    backbone=dict(arch='deit-base', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4),
    auxiliary_head=dict(in_channels=embed_dims))
