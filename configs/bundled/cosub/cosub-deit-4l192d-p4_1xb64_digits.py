# cosub (https://arxiv.org/abs/2212.04884) on the bundled digits (32x32):
# a 4-block DeiT with deit-tiny's widths (192 dims, 3 heads) and patch size
# 4, on the digits schedule (digits_adamw_15e.py, batch 64), trained as two
# stochastic-depth submodels per image that teach each other. Stochastic
# depth 0.3, so that the two submodels of an image usually differ. lam=0.5
# as in the paper; the label loss is softmax cross-entropy and the mutual
# terms are its soft-target counterpart (mutual_loss='ce'), so that the only
# change from a plain classifier is co-training (the ImageNet configs use
# the paper's BCE).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='mmvitplug.CoSubClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=4,
        drop_path_rate=0.3),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    loss=dict(
        type='mmvitplug.CoSubLoss',
        lam=0.5,
        label_loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        mutual_loss='ce'),
)
