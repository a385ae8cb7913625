# The bundled digits DeiT: 4 blocks of deit-tiny's widths (192 dims, 3
# heads, MLP 768) on 8x8 patches of the 32x32 digits (a 4x4 grid of tokens,
# each covering 2x2 pixels of the original 8x8 digit), a linear head on the
# class token. `model` is the plain classifier trained with cross-entropy;
# `deit_backbone` and `deit_head` (without a loss) serve the methods that
# wrap the same network (e.g. MixSKD).
deit_backbone = dict(
    type='mmvitplug.DeiT',
    arch=dict(
        embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768),
    img_size=32,
    patch_size=8)
deit_head = dict(
    type='LinearClsHead',
    num_classes=10,
    in_channels=192,
    init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.))
model = dict(
    type='ImageClassifier',
    backbone=deit_backbone,
    neck=None,
    head=dict(
        deit_head, loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
