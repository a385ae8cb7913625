# UperNet on a plain (single-scale) backbone: the stride-16 map of the
# backbone's last block feeds mmvitplug.SimpleFPN (ViTDet,
# https://arxiv.org/abs/2203.16527, LayerNorm) whose four levels (strides
# 4, 8, 16, 32) go to mmseg's UPerHead; an FCN auxiliary head reads stride
# 16. Everything else is mmseg's upernet_vit-b16_ln_mln.py.
# A config sets model.backbone (type, arch, out_indices = its last block,
# init_cfg), the neck's backbone_channel / in_channels / out_channels, the
# heads' in_channels, num_classes and data_preprocessor.size.
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, out_type='featmap'),
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        num_outs=4,
        norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    auxiliary_head=dict(in_index=2))
