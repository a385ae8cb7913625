# Mask R-CNN with a LITv2-S backbone on COCO, 1x schedule: the official
# detection config mask_rcnn_litv2_s_fpn_1x_coco.py (ziplab/LITv2 7501c86;
# 44.9 box / 40.8 mask AP in the README) on mmdet 3: 12 epochs, lr steps
# at 8 and 11, 8 GPUs x 2 images, AdamW lr 2e-4, weight decay 1e-4 except
# on parameters named '*norm*', stochastic depth 0.2, HiLo window 2; the
# single-scale 1333x800 pipeline of mmdet's Mask R-CNN 1x. No layer-wise
# lr decay (rate 1.0). The official run uses fp16: add --amp on GPUs.
# Pyramid: LITv2's four stage maps (strides 4-32; 96 / 192 / 384 / 768
# channels, each through its output norm norm0-3 as in the official
# detection backbone) go to mmdet's FPN.
# Source: official detection/configs/litv2/mask_rcnn_litv2_s_fpn_1x_coco.py.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-litv2-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official litv2_s.pth of ziplab/LITv2 (converted on
# load; its norm0-2 are new, as in the official detection code).
pretrained = 'pretrain/litv2_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LITv2',
        arch='litv2-s',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: no decay on parameters named '*norm*' only
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={'norm': dict(decay_mult=0.)}))
auto_scale_lr = dict(base_batch_size=16)
