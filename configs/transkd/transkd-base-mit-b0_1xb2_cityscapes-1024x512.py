# TransKD-Base (https://arxiv.org/abs/2202.13393; official RuipingL/TransKD
# train/train_TransKDBase.py, README: 68.58 mIoU): the SegFormer-B0 student
# of segformer-mit-b0_1xb2_cityscapes-1024x512.py (same data and schedule,
# not pre-trained) distilled from a frozen SegFormer-B2
# (_teachers/segformer-mit-b2_cityscapes.py): CSF + HCL x 1 on the four
# stage maps, PEA MSE on the patch embeddings x 0.1 / 0.1 / 0.5 / 1
# (_base_/distillers/transkd.py), added to the student's cross-entropy.
# Not identical: the teacher is mmseg's Cityscapes SegFormer-B2 (81.08
# mIoU, trained on 1024x1024 crops), not the official one (76.49).
# Source: official RuipingL/TransKD train_TransKDBase.py (defaults)
_base_ = [
    './segformer-mit-b0_1xb2_cityscapes-1024x512.py',
    '../_base_/distillers/transkd.py',
    '../_teachers/segformer-mit-b2_cityscapes.py',
]

model = dict(
    type='mmvitplug.DistillationSegmentor',
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=_base_.transkd_distiller)
