# TransKD-EA (https://arxiv.org/abs/2202.13393) at shapes scale: the bundled
# TransKD-Base (transkd-base-mit-4l32d-p4_1xb8_shapes-ade.py, same student,
# teacher and schedule) with Embedding Assistants: each stage's projected
# student embedding blended with a second patch embedding of its input
# (_base_/distillers/transkd_ea.py).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './transkd-base-mit-4l32d-p4_1xb8_shapes-ade.py',
    '../../_base_/distillers/transkd_ea.py',
]

model = dict(distiller=_base_.transkd_ea)
