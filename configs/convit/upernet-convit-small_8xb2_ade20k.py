# UperNet on a ConViT-S backbone for ADE20K 512x512, 160k iterations, as
# configs/deit/upernet-deit-small_* (_base_/models/upernet_simplefpn.py,
# _base_/schedules/ade20k_adamw-ld0.65_160k.py): the single stride-16 map
# of the patch tokens of the last block (after the final norm; the class
# token, which joins before block 10, is dropped) feeds mmvitplug.SimpleFPN
# (ViTDet, https://arxiv.org/abs/2203.16527) whose four levels (strides 4,
# 8, 16, 32) go to mmseg's UPerHead; an FCN auxiliary head reads stride
# 16. AdamW with layer-wise lr decay 0.65 as in BEiT/MAE segmentation.
# ConViT has no official segmentation code. The position embedding is
# resized and the GPSA relative indices made for every input grid (whole
# images of any size at test time).
# Source: the BEiT / MAE ADE20K recipe applied to ConViT-S; our combination
# (no published number).
_base_ = [
    '../_base_/models/upernet_simplefpn.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-convit-small_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/convit/convit_small.pth (converted on load).
# The 14x14 position embedding is resized to 32x32.
pretrained = 'pretrain/convit_small.pth'
crop_size = (512, 512)
embed_dims = 432

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.ConViT',
        arch='convit-small',
        img_size=crop_size,
        out_indices=(11, ),
        drop_path_rate=0.1,
        with_cp=False,
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
