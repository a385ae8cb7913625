# BiMLP-S, the binary vision MLP of https://arxiv.org/abs/2212.14158
# (NeurIPS 2022), trained on ImageNet-1k at 224: binary multi-branch blocks
# (1-bit weights and activations), full-precision stem, down-sampling and
# classifier. The architecture is the official MindSpore evaluation code's
# (mindspore-ai/models research/cv/BiMLP/src/bimlp.py, BiMLP_S: depths
# 2-2-4-2, widths 64-128-320-512, MLP ratio 4, BN in the blocks); its
# evaluation crop ratio 0.9 (default_cfg crop_pct, short edge 248).
# The training recipe is NOT released (eval-only code, no training script):
# this one is OURS, unverified: the DeiT recipe that Wave-MLP (the
# full-precision base of BiMLP) trains with: AdamW lr 5e-4 x batch / 512,
# weight decay 0.05 (none on 1-D parameters: biases, norms, PReLU slopes,
# branch weights), 300 epochs, 5 warm-up epochs, cosine, RandAugment,
# Mixup 0.8 / CutMix 1.0, random erasing, repeated augmentation, label
# smoothing 0.1, stochastic depth 0.1. 8 GPUs x 128 images: lr 1e-3.
# Source: official BiMLP bimlp.py (architecture, crop ratio); our recipe
# (DeiT's, Table 9), not the paper's.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.BiMLP',
        arch='bimlp-s',
        binary=True,
        out_type='avg_featmap',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',  # full precision, as officially
        num_classes=1000,
        in_channels=512,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

# evaluation at crop ratio 0.9 (official default_cfg): short edge 248
test_pipeline = [
    dict(t, scale=248) if t['type'] == 'ResizeEdge' else t
    for t in _base_.test_pipeline
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# no weight decay on any 1-D parameter (PReLU slopes, branch weights too)
optim_wrapper = dict(paramwise_cfg=dict(flat_decay_mult=0.0))
