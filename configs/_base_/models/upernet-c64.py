# UperNet on a pyramid backbone, scaled down for the bundled shapes
# (128x128 images) trained from scratch on CPU: mmseg's UPerHead with 64
# channels and its FCN auxiliary head with 32, BN in both, whole-image
# evaluation. Bundled-data smoke model, not a paper recipe. A config sets
# model.backbone (type, arch, out_indices; featmap outputs), the heads'
# in_channels / in_index / num_classes and data_preprocessor.size.
_base_ = ['mmseg::_base_/models/upernet_r50.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, out_type='featmap'),
    decode_head=dict(channels=64, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=32, norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))
