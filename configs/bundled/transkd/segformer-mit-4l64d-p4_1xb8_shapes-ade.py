# The teacher of the bundled TransKD configs: the bundled student
# (segformer-mit-4l32d-p4_1xb8_shapes-ade.py: one block per stage, an
# all-MLP head of 64 channels, same data and schedule) at MiT-B2's widths
# (64 / 128 / 320 / 512 channels). Its last checkpoint is the teacher of
# _teachers/segformer-mit-4l64d-p4_shapes-ade.py.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = ['./segformer-mit-4l32d-p4_1xb8_shapes-ade.py']

model = dict(
    backbone=dict(embed_dims=64),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
