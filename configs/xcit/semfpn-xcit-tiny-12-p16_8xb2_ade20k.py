# Semantic FPN with an XCiT-T12/16 backbone on ADE20K 512x512, 80k
# iterations, as the official semantic segmentation code
# (https://arxiv.org/abs/2106.09681, Sec. 4.3; official
# semantic_segmentation/configs/xcit/sem_fpn/
# sem_fpn_xcit_tiny_12_p16_80k_ade20k.py on _base_/models/
# sem_fpn_xcit_p16.py, 38.1 mIoU): the 4-scale pyramid of the paper from
# XCiT layers [3, 5, 7, 11] by mmvitplug.ScalePyramid (strides 4, 8, 16,
# 32), then mmseg's FPN (192 -> 192 channels, 4 levels) and FPNHead (128
# channels, dropout 0.1), no auxiliary head. mmseg's EncoderDecoder builds
# a list of necks as one Sequential (mmengine's registry), so the pyramid
# and the FPN are `neck=[ScalePyramid, FPN]` as in the Mask R-CNN configs
# (in the official code the pyramid is part of the backbone).
# Official recipe: AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01
# except on parameters named '*norm*', linear warm-up of 1500 iterations
# from lr x 1e-6, then poly (power 1.0) decay to 0, 80k iterations,
# 8 GPUs x 2 images (512x512 crops of mmseg's ADE20K pipeline: resize to
# (2048, 512) x [0.5, 2.0], crop with cat_max_ratio 0.75, flip,
# photometric distortion), whole-image test at (2048, 512), validation and
# checkpoint every 8000 iterations; stochastic depth 0.0 for T12. No
# layer-wise lr decay (rate 1.0). The official runs use SyncBN in the
# backbone and the pyramid: set conv_norm_cfg / norm_cfg to SyncBN for
# multi-GPU training (FPNHead has SyncBN from mmseg's fpn_r50.py).
# Source: official XCiT segmentation config (sem_fpn_xcit_tiny_12_p16_80k).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone. Placeholder: an mmvitplug checkpoint
# (keys 'backbone.*') or an official one, converted on load: the official
# README's example command starts from the distilled 384 checkpoint
# (https://dl.fbaipublicfiles.com/xcit/xcit_tiny_12_p16_384_dist.pth), its
# tables do not say which one each row used.
pretrained = 'pretrain/xcit_tiny_12_p16_224.pth'
embed_dims = 192
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.XCiT',
        arch='xcit-tiny-12-p16',
        out_type='featmap',
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(
            type='mmvitplug.ScalePyramid',
            in_channels=embed_dims,
            in_stride=16,
            out_strides=(4, 8, 16, 32)),
        dict(
            type='FPN',
            in_channels=[embed_dims] * 4,
            out_channels=embed_dims,
            num_outs=4),
    ],
    decode_head=dict(
        in_channels=[embed_dims] * 4,
        feature_strides=[4, 8, 16, 32],
        num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: no decay on parameters named '*norm*' only
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={
            'norm': dict(decay_mult=0.),
            '.pos_embed': dict(decay_mult=1.),
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=80000,
        by_epoch=False),
]

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
