# DynamicViT (Rao et al., NeurIPS 2021, https://arxiv.org/abs/2106.02034)
# at digits scale on a finer token grid: the patch-4 digits DeiT teacher
# (bundled/deit/sup-deit-4l192d-p4_1xb16_digits.py: 4 blocks, 192 dims, 3
# heads, patch 4 on 32 px, an 8 x 8 grid of 64 patch tokens, 51.0% top-1)
# fine-tuned into
# mmvitplug.DynamicViT with keep predictors before blocks 1, 2 and 3 (the
# official 3, 6, 9 of 12 blocks scaled to 4: pruning_loc fractions 0.25,
# 0.5, 0.75), rho = 0.7: 44, 31 and 21 of the 64 patch tokens are kept at
# inference (int(64 x 0.7^l)). Everything else as the patch-8 config
# dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py (16 tokens, 11 / 7 / 5
# kept), whose claim fails on that 4 x 4 grid. Student initialised from
# the teacher (backbone and head); the teacher is the same frozen network.
# Loss (official DistillDiffPruningLoss_dynamic with mse_token, DeiT):
# 1.0 CE(labels) + 2.0 x ratio loss (mean over the 3 locations of the
# per-sample squared gap between the kept fraction and rho^l)
# + 0.5 KL(teacher logits || student logits)
# + 0.5 MSE(final normalised patch tokens, the student's kept tokens only).
# Optimizer (official optim_factory): AdamW lr 1e-3, weight decay 0.05
# (none on 1-D parameters), the predictors at the full lr and everything
# else (ViT, head) at lr x 0.01 (lr_scale, a two-depth layer decay), the
# class token and position embedding frozen; the ViT and head also frozen
# during the warm-up (the official fix_step); cosine to lr x 1e-3.
# Schedule: the official 30 epochs / 5 warm-up scaled to 6 / 1 (batch 16,
# 90 iterations an epoch). No augmentation (as the teacher's training).
# Baseline on the same schedule:
# dynamicvit-unpruned-deit-4l192d-p4_1xb16-6e_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/deit/sup-deit-4l192d-p4_1xb16_digits.py
_base_ = ['./dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py']

# the patch-4 teacher (trained by the config named above) in place of the
# patch-8 one, for the teacher, the student's backbone and its head
teacher_ckpt = 'work_dirs/sup-deit-4l192d-p4_1xb16_digits/epoch_15.pth'
model = dict(
    backbone=dict(
        backbone=dict(patch_size=4, init_cfg=dict(checkpoint=teacher_ckpt))),
    head=dict(init_cfg=dict(checkpoint=teacher_ckpt)),
    teacher=dict(backbone=dict(patch_size=4)),
    teacher_ckpt=teacher_ckpt)
