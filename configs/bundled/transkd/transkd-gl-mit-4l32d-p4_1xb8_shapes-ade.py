# TransKD-GL (https://arxiv.org/abs/2202.13393) at shapes scale: the bundled
# TransKD-Base (transkd-base-mit-4l32d-p4_1xb8_shapes-ade.py, same student,
# teacher and schedule) with the stage-4 student patch embedding mixed by
# the Global-Local Mixer before its projection
# (_base_/distillers/transkd_gl.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './transkd-base-mit-4l32d-p4_1xb8_shapes-ade.py',
    '../../_base_/distillers/transkd_gl.py',
]

model = dict(distiller=_base_.transkd_gl)
