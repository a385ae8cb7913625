# Fine-tuning of the TinyMIM-pre-trained ViT-S/16 on ImageNet-1k (83.0
# top-1 in the official README): the backbone exported from
# tinymim-deit-small_32xb128-300e_in1k.py. The official README gives the
# fine-tuning command of ViT-B only; this is that recipe with
# main_finetune.py's default drop path 0.1 (not the 0.2 of ViT-B): the
# small model's own settings are unverified.
# Source: official OliverRensu/TinyMIM README fine-tuning command
# (ViT-B), main_finetune.py defaults.
_base_ = ['./sup-deit-base_8xb128-100e_in1k.py']

pretrained = 'work_dirs/tinymim-deit-small_32xb128-300e_in1k/backbone.pth'
model = dict(
    backbone=dict(
        arch='deit-small',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint=pretrained)),
    head=dict(in_channels=384))
