# UperNet with Arch-Net's DeiT-S student (mmvitplug.ArchNetViT: 2-bit LSQ
# weights, 4-bit LSQ activations, BatchNorm for LayerNorm) as a plain
# backbone for ADE20K 512x512, 160k iterations, fine-tuned with its
# quantisers on: the recipe of configs/deit/upernet-deit-small_8xb2_ade20k.py
# (the single stride-16 map of the last block feeds mmvitplug.SimpleFPN,
# whose four levels go to UPerHead; an FCN auxiliary head at stride 16;
# AdamW with layer-wise lr decay 0.65 as in BEiT / MAE segmentation) with
# the Arch-Net student in place of the DeiT. 8 GPUs x 2 images.
# Source: the BEiT / MAE ADE20K UperNet recipe on the ViTDet pyramid; the
# Arch-Net student on it is our combination (Arch-Net has no segmentation
# code or config).
_base_ = [
    '../_base_/models/upernet_simplefpn.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]

# the student distilled by archnet-deit-small_8xb32_in1k.py (keys
# 'backbone.*'); its 14x14 position embedding is resized to 32x32
pretrained = 'work_dirs/archnet-deit-small_8xb32_in1k/iter_169280.pth'
crop_size = (512, 512)
embed_dims = 384

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.ArchNetViT',
        arch='deit-small',
        img_size=crop_size,
        w_bits=2,
        a_bits=4,
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
