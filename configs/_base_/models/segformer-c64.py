# SegFormer (mmseg's MixVisionTransformer + SegformerHead), scaled down for
# the bundled shapes (128x128 images) trained from scratch on CPU: the
# all-MLP head with 64 channels, BN, no dropout, whole-image evaluation
# (schedule: _base_/schedules/shapes-ade_segformer_adamw_500i.py).
# Bundled-data smoke model, not a paper recipe. A config sets the backbone's
# size (embed_dims, num_layers, num_heads), the head's in_channels and
# num_classes.
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(drop_path_rate=0.),
    decode_head=dict(channels=64, dropout_ratio=0., norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))
