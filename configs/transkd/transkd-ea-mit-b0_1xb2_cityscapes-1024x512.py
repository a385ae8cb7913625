# TransKD-EA (https://arxiv.org/abs/2202.13393; official RuipingL/TransKD
# train/train_TransKD_EA.py, README: 68.98 mIoU): TransKD-Base
# (transkd-base-mit-b0_1xb2_cityscapes-1024x512.py, same student, teacher,
# data and schedule) with Embedding Assistants in place of the PEA
# projections (_base_/distillers/transkd_ea.py).
# Source: official RuipingL/TransKD train_TransKD_EA.py (defaults)
_base_ = [
    './transkd-base-mit-b0_1xb2_cityscapes-1024x512.py',
    '../_base_/distillers/transkd_ea.py',
]

model = dict(distiller=_base_.transkd_ea)
