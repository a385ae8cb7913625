# Teacher of the TinyMIM ViT-T / ViT-S configs: the official MAE ViT-B/16
# pre-trained on ImageNet-1k for 1600 epochs (facebookresearch/mae,
# `mae_pretrain_vit_base.pth`: the encoder in the timm layout, which the
# DeiT backbone loads through its converter). TinyMIM distils the attention
# relations of its last (12th) block (`models_teacher.mae_vit_base`,
# `intermediate=12`); the head-less classifier returns the class token.
# Source: TinyMIM official code (models_teacher.py) and the MAE release.
#
# The checkpoint is loaded completely when the model is built (it must fill
# every tensor of the teacher) and is not saved in the student's
# checkpoints.
teacher = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.DeiT', arch='deit-base'),
    neck=None,
    head=None)
teacher_ckpt = \
    'https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth'
# heads of the distilled block (a TinyMIM student's relations use as many)
teacher_heads = 12
