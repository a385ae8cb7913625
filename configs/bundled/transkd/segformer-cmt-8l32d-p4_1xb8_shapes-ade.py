# One of our ViTs as the TransKD student, alone (its baseline): a CMT with
# the bundled MiT student's widths (32 / 64 / 160 / 256 channels, 1 / 2 / 5
# / 8 heads, one block per stage, strides 4 to 32) and the same all-MLP
# SegFormer head, data and schedule as segformer-mit-4l32d-p4_1xb8_
# shapes-ade.py. transkd-base-cmt-8l32d-p4_1xb8_shapes-ade.py: distilled.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = ['./segformer-mit-4l32d-p4_1xb8_shapes-ade.py']

model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CMT',
        arch=dict(
            embed_dims=(32, 64, 160, 256),
            depths=(1, 1, 1, 1),
            num_heads=(1, 2, 5, 8),
            mlp_ratio=4,
            stem_channels=16,
            img_size=128),
        out_indices=(0, 1, 2, 3),
        out_type='featmap'))
