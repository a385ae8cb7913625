# TinyMIM (https://arxiv.org/abs/2301.01296) pre-training of ViT-B/16 on
# ImageNet-1k from the official MAE ViT-L (85.0 top-1 after fine-tuning in
# the official README, vs 83.6 for MAE): the relations of the teacher's
# 18th block of 24 (`--teacher_model mae_vit_large`, whose model default is
# `intermediate=18`; the teacher stops after it), distilled into the last
# block of the 12-block student split into the teacher's 16 heads
# (`tinymim_vit_base_patch16`, `last_heads=16`). Fine-tune the result with
# sup-deit-base_8xb128-100e_in1k.py. Data, schedule and the rest of the
# method: tinymim-deit-small_32xb128-300e_in1k.py.
# Source: official OliverRensu/TinyMIM (README pre-training command,
# models_tinymim.py, models_teacher.py).
_base_ = [
    '../_base_/distillers/tinymim.py',
    '../_base_/datasets/imagenet_tinymim.py',
    '../_base_/schedules/tinymim_adamw_300e.py',
    '../_teachers/mae-vit-large-p16_in1k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

_student = dict(
    source='backbone.blocks.11.attn', num_heads=_base_.teacher_heads)
_teacher = dict(source='teacher.backbone.blocks.17.attn')
model = dict(
    backbone=dict(arch='deit-base'),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        recorders=dict(student=_student, teacher=_teacher)))
