# ResMLP on the bundled digits (32x32): 4 blocks of 128 dims (resmlp-12 has
# 12 of 384), LayerScale 0.1, with patch size 4 (one patch per pixel of
# the original 8x8 digit): 8x8 = 64 patches, so each cross-patch layer is a
# 64x64 matrix and inputs must be exactly 32x32. LAMB + warm-up + cosine as
# in the paper's recipe; LAMB scales each layer's step by its weight norm,
# so this small model from scratch takes a larger lr (2e-2) than ImageNet.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch=dict(
            embed_dims=128, num_layers=4, feedforward_channels=512,
            init_values=0.1),
        img_size=32,
        patch_size=4,
        out_type='avg_featmap',
        drop_path_rate=0.05),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(optimizer=dict(type='Lamb', lr=2e-2))
