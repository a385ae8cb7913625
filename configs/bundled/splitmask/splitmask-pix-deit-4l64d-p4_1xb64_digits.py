# SplitMask pre-training (El-Nouby et al. 2021, arXiv 2112.10740) of a tiny
# DeiT on the bundled digits (32x32), normalised-pixel target (the paper's
# DALL-E tokens cannot be downloaded; see mmvitplug.SplitMaskPixelTarget).
# Source: bundled-data smoke config, not a paper recipe.
#
# Backbone: 4 blocks of 64 channels (2 heads) on 4x4 patches: one token per
# pixel of the original 8x8 digit, 64 tokens, 32 in each subset of the
# 50/50 split. Decoder: 2 blocks of 64 channels (the paper's depth).
# Schedule: the bundled AdamW (lr 1e-3 for batch 64, weight decay 0.05
# except 1-D parameters, tokens and position embedding), one warm-up epoch
# and a cosine to epoch 15 (small-data values, not tuned; ~1 CPU second per
# step). No labels are read; evaluate the exported backbone with
# knn-deit-4l64d-p4_1xb128_digits.py (k-NN).
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

model = dict(
    type='mmvitplug.SplitMask',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=4,
        # what an exported backbone gives (the k-NN embedding)
        out_type='avg_featmap'),
    head=dict(
        type='mmvitplug.SplitMaskHead', embed_dims=64, num_layers=2,
        num_heads=2),
    target_generator=dict(
        type='mmvitplug.SplitMaskPixelTarget', patch_size=4, norm_pix=True),
    loss=dict(type='mmvitplug.SplitMaskLoss', temperature=0.1),
    split_ratio=0.5,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean={{_base_.data_preprocessor.mean}},
        std={{_base_.data_preprocessor.std}},
        to_rgb=True),
)

train_dataloader = dict(
    batch_size=64, collate_fn=dict(type='default_collate'), drop_last=True)

# pre-training only: no validation loop
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=64, enable=False)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best=None))
