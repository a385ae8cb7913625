# BiMLP (https://arxiv.org/abs/2212.14158), a binary vision MLP, on the
# bundled digits (32x32), trained from scratch: the full-precision 7x7
# stride-4 stem (8x8 maps), four stages of one multi-branch binary block
# each (widths 16-32-64-128, MLP ratio 4, BN), the full-precision
# down-sampling between them (8x8 -> 4x4 -> 2x2 -> 1x1): 7 trunk layers
# (4 blocks + 3 down-samplings) of 16 channels first, stride 4. Every
# 1x1 "FC" and depth-wise 1x7 / 7x1 convolution of the blocks has 1-bit
# weights (sign x per-channel mean|W|) and 1-bit inputs (sign, clipped
# straight-through gradient); the classifier (GAP + linear) is full
# precision. Its full-precision twin (same modules, every convolution real)
# is bimlp-fp-bimlp-7l16d-p4_1xb64_digits.py, on the same schedule: the
# digits schedule (AdamW + warm-up + cosine, 15 epochs, no weight decay on
# 1-D parameters) at lr 2e-3.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.BiMLP',
        arch=dict(
            depths=(1, 1, 1, 1),
            embed_dims=(16, 32, 64, 128),
            mlp_ratios=(4, 4, 4, 4)),
        binary=True,
        out_type='avg_featmap'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(optimizer=dict(lr=2e-3))
