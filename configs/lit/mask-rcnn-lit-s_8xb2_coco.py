# Mask R-CNN with a LIT-S backbone on COCO, 1x schedule: the official
# detection config mask_rcnn_lit_s_fpn_1x_coco.py (ziplab/LIT 742e961; 42.9
# box / 39.6 mask AP in the README) on mmdet 3: 12 epochs, 500 linear
# warm-up iterations from lr x 0.001, lr steps at 8 and 11, 8 GPUs x 2
# images, AdamW lr 2e-4, weight decay 1e-4 except on parameters named
# '*norm*' or '*relative_position_bias_table*', stochastic depth 0.2,
# gradient checkpointing (use_checkpoint=True); the single-scale 1333x800
# pipeline of mmdet's Mask R-CNN 1x. No layer-wise lr decay (none in the
# paper). The official run uses fp16: add --amp on GPUs.
# Pyramid: LIT-S's four stage maps (strides 4-32; 96 / 192 / 384 / 768
# channels; stages 1-3 through their output norms norm1-3, as the official
# detection backbone) go to mmdet's FPN. As the official detection code,
# the relative-position tables are made for 800x800 inputs (img_size=800):
# the checkpoint's 224 tables are resized bicubically on load, then to each
# input's grid.
# Source: official detection/configs/lit/mask_rcnn_lit_s_fpn_1x_coco.py.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-lit-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official lit_s.pth of ziplab/LIT (converted on
# load; norm1-2 are new, as in the official detection code).
pretrained = 'pretrain/lit_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.LIT',
        arch='lit-s',
        img_size=800,
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # the official rule: no decay on parameters named '*norm*' or
    # '*relative_position_bias_table*' only
    paramwise_cfg=dict(
        layer_decay_rate=1.0,
        norm_decay_mult=1.0,
        flat_decay_mult=1.0,
        custom_keys={
            'norm': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(base_batch_size=16)
