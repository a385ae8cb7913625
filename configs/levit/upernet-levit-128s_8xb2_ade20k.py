# UperNet on a LeViT-128S backbone for ADE20K 512x512, 160k iterations.
# The pyramid: the activated stem maps at strides 4 and 8
# (`stem_out_strides=(4, 8)`, 32 and 64 channels) and the three LeViT
# stages at strides 16, 32, 64 (128, 256, 384 channels): five maps, all
# read by mmseg's UPerHead (pyramid pooling on the stride-64 map); the FCN
# auxiliary head reads the first stage (stride 16). Attention-bias tables
# learned at 224 are resized on load to the 512x512 grid (32x32 tokens).
# AdamW, lr 1e-4, weight decay 0.05, poly schedule of
# _base_/schedules/ade20k_adamw-ld0.65_160k.py with a milder layer-wise lr
# decay of 0.9 (11 trunk layers).
# Source: our combination (LeViT has no released segmentation recipe).
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/ade20k_adamw-ld0.65_160k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: an mmvitplug
# checkpoint (keys 'backbone.*'), the official
# https://dl.fbaipublicfiles.com/LeViT/LeViT-128S-96703c44.pth or timm's
# levit_128s weights (both converted on load).
pretrained = 'pretrain/LeViT-128S-96703c44.pth'
crop_size = (512, 512)
channels = [32, 64, 128, 256, 384]

model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LeViT',
        arch='levit-128s',
        img_size=crop_size,
        out_type='featmap',
        out_indices=(0, 1, 2),
        stem_out_strides=(4, 8),
        drop_path_rate=0.,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(
        in_channels=channels, in_index=[0, 1, 2, 3, 4], num_classes=150),
    auxiliary_head=dict(in_channels=128, in_index=2, num_classes=150))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
