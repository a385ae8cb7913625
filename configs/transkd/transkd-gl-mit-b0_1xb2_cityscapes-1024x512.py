# TransKD-GL (https://arxiv.org/abs/2202.13393; official RuipingL/TransKD
# train/train_TransKD_GLMixer.py, README: 68.87 mIoU): TransKD-Base
# (transkd-base-mit-b0_1xb2_cityscapes-1024x512.py, same student, teacher,
# data and schedule) whose stage-4 patch embedding passes the Global-Local
# Mixer before its projection (_base_/distillers/transkd_gl.py).
# Source: official RuipingL/TransKD train_TransKD_GLMixer.py (defaults)
_base_ = [
    './transkd-base-mit-b0_1xb2_cityscapes-1024x512.py',
    '../_base_/distillers/transkd_gl.py',
]

model = dict(distiller=_base_.transkd_gl)
