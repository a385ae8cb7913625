# UperNet on a plain backbone with mmvitplug.SimpleFPN, scaled down for the
# bundled shapes (128x128 images) trained from scratch on CPU: the layout
# of upernet_simplefpn.py with a 64-channel pyramid and heads (32 in the
# auxiliary head) and BN instead of SyncBN in the heads. Bundled-data smoke
# model, not a paper recipe. A config sets model.backbone (type, arch,
# out_indices = its last block), the neck's backbone_channel, num_classes
# and data_preprocessor.size.
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

channels = 64
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, out_type='featmap'),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        out_channels=channels,
        num_outs=4,
        norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    decode_head=dict(
        in_channels=[channels] * 4, channels=channels, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=channels, in_index=2, channels=32, norm_cfg=norm_cfg))
