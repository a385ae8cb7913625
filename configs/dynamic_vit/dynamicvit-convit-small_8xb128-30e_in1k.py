# DynamicViT-ConViT-S/0.7 (https://arxiv.org/abs/2106.02034 on ConViT,
# https://arxiv.org/abs/2103.10697): the DeiT-S recipe of this folder
# (dynamicvit-deit-small_8xb128-30e_in1k.py: losses, lr scale, frozen
# warm-up, 30 epochs, EMA) on the official ConViT-S (teacher, and the
# student's initialisation: backbone and head), keep predictors before
# blocks 3, 6 and 9 (gated positional self-attention blocks: each kept
# patch keeps its position in the grid), rho = 0.7 (137, 96 and 67 of the
# 196 patch tokens kept at inference; the class token joins the kept
# patches before block 10). The official DynamicViT code has no ConViT
# recipe: the DeiT one is carried over.
# Source: official DynamicViT README (DeiT-S command) and main.py defaults;
# ConViT README (checkpoint).
_base_ = ['./dynamicvit-deit-small_8xb128-30e_in1k.py']

pretrained = 'https://dl.fbaipublicfiles.com/convit/convit_small.pth'
convit = dict(type='mmvitplug.ConViT', arch='convit-small')
model = dict(
    backbone=dict(
        backbone=dict(convit, init_cfg=dict(checkpoint=pretrained)),
        pruning_loc=(3, 6, 9)),
    head=dict(
        in_channels=432,
        init_cfg=dict(checkpoint=pretrained, converter='ConViT')),
    teacher=dict(backbone=convit, head=dict(in_channels=432)),
    teacher_ckpt=pretrained)
