# UperNet on a PatchConvNet-S60 backbone (https://arxiv.org/abs/2112.13692)
# for ADE20K 512x512, 160k iterations. The single stride-16 map of the last
# trunk block feeds mmvitplug.SimpleFPN (ViTDet,
# https://arxiv.org/abs/2203.16527) whose four levels (strides 4, 8, 16, 32)
# go to mmseg's UPerHead; an FCN auxiliary head reads stride 16. AdamW with
# layer-wise lr decay (0.95 per block over the 60-block column).
# Source: the BEiT / MAE ADE20K recipe applied to PatchConvNet-S60
# (layer decay 0.95 is ours); the paper reports its own ADE20K setting.
_base_ = [
    '../_base_/models/upernet_simplefpn.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-patchconvnet-s60_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/s60_224_1k.pth (converted on load).
pretrained = 'pretrain/s60_224_1k.pth'
crop_size = (512, 512)
embed_dims = 384

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        out_type='featmap',
        out_indices=(59, ),
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

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
