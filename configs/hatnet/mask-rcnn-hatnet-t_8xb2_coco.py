# Mask R-CNN with a HAT-Net-T backbone on COCO, 1x schedule. HAT-Net has no
# released detection code; the paper follows PVT's protocol, so this is
# PVT's mask_rcnn_pvt_s_fpn_1x_coco.py (whai362/PVT) on mmdet 3: 12 epochs,
# 500 linear warm-up iterations from lr x 0.001, lr steps at 8 and 11, 8
# GPUs x 2 images, AdamW lr 2e-4 and weight decay 1e-4 on every parameter,
# the single-scale 1333x800 pipeline of mmdet's Mask R-CNN 1x; stochastic
# depth 0.1 (the classification value). No layer-wise lr decay (none in
# the paper).
# Pyramid: HAT-Net-T's four stage maps (strides 4-32; 48 / 96 / 240 / 384
# channels) go to mmdet's FPN; H-MHSA pads and masks the grid cells at
# map sides its 8 / 7 / 7 grids do not divide (the official model takes
# divisible sizes only).
# Source: PVT's detection/configs/mask_rcnn_pvt_s_fpn_1x_coco.py (the
# protocol the HAT-Net paper follows).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-hatnet-t_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official HAT-Net_Tiny.pth of yun-liu/HAT-Net
# (converted on load).
pretrained = 'pretrain/HAT-Net_Tiny.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.HATNet',
        arch='hatnet-t',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 240, 384]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # PVT's rule: weight decay on every parameter
    paramwise_cfg=dict(
        layer_decay_rate=1.0, norm_decay_mult=1.0, flat_decay_mult=1.0))
auto_scale_lr = dict(base_batch_size=16)
