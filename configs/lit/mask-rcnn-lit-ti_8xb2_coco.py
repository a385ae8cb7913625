# Mask R-CNN with a LIT-Ti backbone on COCO, 1x schedule: the official
# detection config mask_rcnn_lit_ti_fpn_1x_coco.py (ziplab/LIT 742e961; 42.0
# box / 39.1 mask AP in the README) on mmdet 3: 12 epochs, 500 linear
# warm-up iterations from lr x 0.001, lr steps at 8 and 11, 8 GPUs x 2
# images, AdamW lr 2e-4 and weight decay 1e-4 on every parameter (the
# official config has no paramwise rule), stochastic depth 0.1 (fixed in
# the official LIT_Ti detection class); the single-scale 1333x800 pipeline
# of mmdet's Mask R-CNN 1x. No layer-wise lr decay (none in the paper).
# Pyramid: LIT-Ti's four stage maps (strides 4-32; 64 / 128 / 320 / 512
# channels) go to mmdet's FPN. As the official detection backbone: no class
# token (its slot of the last position embedding is dropped on load), the
# position embeddings made for 224 resized bilinearly to every input;
# unlike it, the last map passes through the final norm (norm3, from the
# checkpoint).
# Source: official detection/configs/lit/mask_rcnn_lit_ti_fpn_1x_coco.py.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-lit-ti_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official lit_ti.pth of ziplab/LIT (converted on
# load; its class token is reported unused).
pretrained = 'pretrain/lit_ti.pth'

model = dict(
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
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
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
auto_scale_lr = dict(base_batch_size=16)
