# Semantic FPN with a LIT-Ti backbone on ADE20K 512x512, 80k iterations, as
# the official segmentation config lit_ti_fpn_r50_512x512_80k_ade20k.py
# (ziplab/LIT 742e961; 41.3 mIoU in the README) on mmseg 1.x: mmseg's
# fpn_r50 head (FPN 256 channels, 4 levels; FPNHead 128 channels, dropout
# 0.1), AdamW lr 1e-4, weight decay 1e-4 on every parameter, poly decay
# (power 0.9) to 1e-6 without warm-up, 8 GPUs x 2 images (512x512 crops of
# mmseg's ADE20K pipeline), stochastic depth 0.1 (the official LIT_Ti
# class's). No layer-wise lr decay (none in the paper). The backbone as in
# the Mask R-CNN config: no class token, position embeddings resized to
# every input.
# Source: official segmentation/configs/lit/
# lit_ti_fpn_r50_512x512_80k_ade20k.py and its _base_ files.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone (see mask-rcnn-lit-ti).
pretrained = 'pretrain/lit_ti.pth'
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LIT',
        arch='lit-ti',
        with_cls_token=False,
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: weight decay on every parameter
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={
            'pos_embed': dict(decay_mult=1.),
            'cls_token': dict(decay_mult=1.),
        }))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-6,
        power=0.9,
        begin=0,
        end=80000,
        by_epoch=False)
]

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
