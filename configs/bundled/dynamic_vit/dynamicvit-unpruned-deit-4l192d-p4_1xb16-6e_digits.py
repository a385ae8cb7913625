# Baseline of dynamicvit-deit-4l192d-p4_1xb16-6e_digits.py: the same
# network WITHOUT token pruning (the plain patch-4 digits DeiT, 64 patch
# tokens, no predictors), initialised from the same teacher and fine-tuned
# on the same schedule, data and distillation: the patch-8 baseline
# dynamicvit-unpruned-deit-4l192d-p8_1xb16-6e_digits.py (1.0 CE + 0.5
# KL(teacher logits) + 0.5 MSE of all the final normalised tokens, the ViT
# and head at lr 1e-5, frozen in the warm-up epoch, class token and position
# embedding frozen) with the patch-4 teacher
# (bundled/deit/sup-deit-4l192d-p4_1xb16_digits.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./dynamicvit-unpruned-deit-4l192d-p8_1xb16-6e_digits.py']

teacher_ckpt = 'work_dirs/sup-deit-4l192d-p4_1xb16_digits/epoch_15.pth'
model = dict(
    backbone=dict(patch_size=4, init_cfg=dict(checkpoint=teacher_ckpt)),
    head=dict(init_cfg=dict(checkpoint=teacher_ckpt)),
    teacher=dict(backbone=dict(patch_size=4)),
    teacher_ckpt=teacher_ckpt)
