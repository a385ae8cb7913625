# Teacher of the bundled-digits Arch-Net ViT configs: the bundled digits
# DeiT (4 blocks of deit-tiny's widths on 8x8 patches,
# _base_/models/deit-4l192d-p8_digits.py) trained with cross-entropy.
# Source: bundled-data smoke model, not a paper recipe. Trained by
# configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py, whose last
# checkpoint is `teacher_ckpt`. A config inheriting this file also
# inherits the base's `model` (the same DeiT): give its own with
# `_delete_=True`.
_base_ = ['../_base_/models/deit-4l192d-p8_digits.py']

teacher = dict(
    type='ImageClassifier',
    backbone=_base_.deit_backbone,
    head=_base_.deit_head)
teacher_ckpt = 'work_dirs/sup-deit-4l192d-p8_1xb16_digits/epoch_15.pth'
