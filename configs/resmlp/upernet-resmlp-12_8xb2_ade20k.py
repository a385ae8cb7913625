# UperNet on a plain ResMLP-S12 backbone for ADE20K 512x512, 160k
# iterations, as configs/deit/upernet-deit-small_8xb2_ade20k.py: the single
# stride-16 map of the last block feeds mmvitplug.SimpleFPN (ViTDet,
# https://arxiv.org/abs/2203.16527) whose four levels (strides 4, 8, 16, 32)
# go to mmseg's UPerHead; an FCN auxiliary head reads stride 16. AdamW with
# layer-wise lr decay 0.65 as in BEiT/MAE segmentation.
# FIXED INPUT SIZE: ResMLP's cross-patch layers are (N, N) matrices over the
# 32x32 patch grid of a 512x512 input, so the backbone only sees 512x512:
# training crops are padded to crop_size (data_preprocessor size), and
# testing uses sliding 512x512 windows over images padded to at least
# 512x512 (data_preprocessor test_cfg) instead of whole-image inference.
# Source: the BEiT / MAE ADE20K recipe applied to ResMLP-S12; our
# combination (no published number).
_base_ = [
    '../_base_/models/upernet_simplefpn.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-resmlp-12_8xb128_in1k/epoch_400.pth, keys
# 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/resmlp_12_no_dist.pth (converted on
# load). Its 196x196 cross-patch weights (14x14 grid) are resized to the
# 32x32 grid (see mmvitplug.models.backbones.resmlp.resize_linear_tokens).
pretrained = 'pretrain/resmlp_12_no_dist.pth'
crop_size = (512, 512)
embed_dims = 384

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size=crop_size)),
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch='resmlp-12',
        img_size=crop_size,
        out_indices=(11, ),
        drop_path_rate=0.05,
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=embed_dims),
    decode_head=dict(in_channels=[embed_dims] * 4, num_classes=150),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
