# Semantic FPN with a HAT-Net-T backbone on ADE20K 512x512, 40k iterations.
# HAT-Net has no released segmentation code; the paper follows PVT's
# protocol, so this is PVT's fpn_pvt_s_ade20k_40k.py (whai362/PVT) on mmseg
# 1.x: mmseg's fpn_r50 head (FPN 256 channels, 4 levels; FPNHead 128
# channels, dropout 0.1), AdamW lr 2e-4 (mmseg's 1e-4 x 2 for 8 GPUs
# instead of 4), weight decay 1e-4 on every parameter, poly decay (power
# 0.9) to 0 without warm-up, 40k iterations, 8 GPUs x 4 images (512x512
# crops of mmseg's ADE20K pipeline), stochastic depth 0.1 (the
# classification value). No layer-wise lr decay (none in the paper).
# Source: PVT's segmentation/configs/sem_fpn/PVT/fpn_pvt_s_ade20k_40k.py
# (the protocol the HAT-Net paper follows).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone (see mask-rcnn-hatnet-t).
pretrained = 'pretrain/HAT-Net_Tiny.pth'
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.HATNet',
        arch='hatnet-t',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 240, 384]),
    decode_head=dict(num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # PVT's rule: weight decay on every parameter
    paramwise_cfg=dict(
        layer_decay_rate=1.0, norm_decay_mult=1.0, flat_decay_mult=1.0))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]

# 8 GPUs x 4 images
train_dataloader = dict(batch_size=4)
