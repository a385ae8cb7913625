# UperNet on a CCT-14/7x2 backbone for ADE20K 512x512, 160k iterations, as
# configs/cait/upernet-cait-xxs24_* (_base_/models/upernet_simplefpn.py,
# _base_/schedules/ade20k_adamw-ld0.65_160k.py): the single stride-16 token
# map of the last CCT layer (after the final norm) feeds mmvitplug.SimpleFPN
# (ViTDet, https://arxiv.org/abs/2203.16527) whose four levels (strides 4,
# 8, 16, 32) go to mmseg's UPerHead; an FCN auxiliary head reads stride 16.
# AdamW with layer-wise lr decay 0.65 as in BEiT/MAE segmentation. The
# sequence pooling is not built for featmap outputs.
# Source: the BEiT / MAE ADE20K recipe applied to CCT-14/7x2; our
# combination (CCT has no published segmentation result).
_base_ = [
    '../_base_/models/upernet_simplefpn.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cct-14-7x2_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official one from https://shi-labs.com/projects/cct/
# checkpoints/pretrained/cct_14_7x2_224_imagenet.pth (converted on load).
# The 14x14 position embedding is resized (bilinear) to 32x32.
pretrained = 'pretrain/cct_14_7x2_224_imagenet.pth'
crop_size = (512, 512)
embed_dims = 384

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.CCT',
        arch='cct-14-7x2',
        img_size=crop_size,
        out_indices=(13, ),
        attn_drop_rate=0.1,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, num_classes=150),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=150))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
