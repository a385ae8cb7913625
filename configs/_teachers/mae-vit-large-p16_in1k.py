# Teacher of the TinyMIM ViT-B config: the official MAE ViT-L/16
# pre-trained on ImageNet-1k for 1600 epochs (facebookresearch/mae,
# `mae_pretrain_vit_large.pth`, timm layout). TinyMIM distils the
# relations of its 18th block of 24 (`models_teacher.mae_vit_large`,
# `intermediate=18`: an intermediate layer is the better target when the
# student is shallower); `out_indices=17` stops the teacher's forward after
# that block, so the last 6 blocks are never run.
# Source: TinyMIM official code (models_teacher.py) and the MAE release.
teacher = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=1024, num_layers=24, num_heads=16,
            feedforward_channels=4096),
        out_indices=17),
    neck=None,
    head=None)
teacher_ckpt = \
    'https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_large.pth'
# heads of the distilled block (a TinyMIM student's relations use as many)
teacher_heads = 16
