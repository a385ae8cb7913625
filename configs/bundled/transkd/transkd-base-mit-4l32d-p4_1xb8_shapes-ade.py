# TransKD-Base (https://arxiv.org/abs/2202.13393) at shapes scale: the
# bundled SegFormer student (segformer-mit-4l32d-p4_1xb8_shapes-ade.py:
# MiT-B0's widths, one block per stage, from scratch) distilled from the
# bundled teacher of MiT-B2's widths
# (_teachers/segformer-mit-4l64d-p4_shapes-ade.py; train it first with
# segformer-mit-4l64d-p4_1xb8_shapes-ade.py), with the official losses and
# weights (_base_/distillers/transkd.py: CSF + HCL x 1, PEA MSE x 0.1 / 0.1 /
# 0.5 / 1) on top of the student's cross-entropy, the student's schedule.
# The same student alone is the baseline; -gl / -ea: the other variants.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './segformer-mit-4l32d-p4_1xb8_shapes-ade.py',
    '../../_base_/distillers/transkd.py',
    '../../_teachers/segformer-mit-4l64d-p4_shapes-ade.py',
]

model = dict(
    type='mmvitplug.DistillationSegmentor',
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=_base_.transkd_distiller)
