# DynamicViT-CaiT-XXS24/0.7 (https://arxiv.org/abs/2106.02034 on CaiT,
# https://arxiv.org/abs/2103.17239): the DeiT-S recipe of this folder
# (dynamicvit-deit-small_8xb128-30e_in1k.py: losses, lr scale, frozen
# warm-up, 30 epochs, EMA) on the official CaiT-XXS24 (teacher, and the
# student's initialisation: backbone and head), keep predictors before
# self-attention blocks 6, 12 and 18 of 24 (the fractions 1/4, 1/2, 3/4 of
# the depth, as DeiT's 3, 6, 9 of 12), rho = 0.7 (137, 96 and 67 of the 196
# patch tokens kept at inference; the class-attention blocks read the kept
# patches). The official DynamicViT code has no CaiT recipe: the DeiT one
# is carried over. The token distillation reads the output of the last
# self-attention block (CaiT normalises only the class token); evaluation
# at crop ratio 1.0, as the official CaiT README asks.
# Source: official DynamicViT README (DeiT-S command) and main.py defaults;
# CaiT README (checkpoint, evaluation crop).
_base_ = ['./dynamicvit-deit-small_8xb128-30e_in1k.py']

pretrained = 'https://dl.fbaipublicfiles.com/deit/XXS24_224.pth'
cait = dict(type='mmvitplug.CaiT', arch='cait-xxs24')
model = dict(
    backbone=dict(
        backbone=dict(cait, init_cfg=dict(checkpoint=pretrained)),
        pruning_loc=(6, 12, 18)),
    head=dict(
        in_channels=192,
        init_cfg=dict(checkpoint=pretrained, converter='CaiT')),
    teacher=dict(backbone=cait, head=dict(in_channels=192)),
    teacher_ckpt=pretrained,
    distiller=dict(
        recorders=dict(
            tokens=dict(source='backbone.vit.blocks.23'),
            teacher_tokens=dict(source='teacher.backbone.blocks.23'))))

# evaluation at crop ratio 1.0
test_pipeline = [
    dict(t, scale=224) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
