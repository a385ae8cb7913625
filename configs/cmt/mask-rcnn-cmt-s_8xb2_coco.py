# Mask R-CNN with a CMT-S backbone on COCO, on the recipe mmdet uses for
# its pyramid backbone ConvNeXt-T (mmdet::convnext/mask-rcnn_convnext-t-p4-
# w7_fpn_amp-ms-crop-3x_coco.py): DETR-style multi-scale + crop
# augmentation, 36 epochs (3x), AdamW lr 1e-4 for 8 x 2 images, weight
# decay 0.05, layer-wise lr decay 0.95 (here over CMT-S's 29 trunk layers:
# 4 patch embeddings + 25 blocks, by
# mmvitplug.LayerDecayOptimWrapperConstructor), stochastic depth 0.1 (the
# classification value). The backbone's BatchNorms (stem, key / value
# reduction, IRFFN) become SyncBN: 2 images per GPU are too few for batch
# statistics (on CPU the plugin turns them back into BN). The official run
# uses AMP: add --amp on GPUs.
# Pyramid: CMT's four stage maps (strides 4, 8, 16, 32; 64 / 128 / 256 /
# 512 channels; tokens after each stage's last block, no extra norm) go
# to mmdet's FPN directly (num_outs=5: the stride-64 level by max-pooling).
# The position biases, learned for 224x224 (the checkpoint's resolution,
# img_size of cmt-s), are resized to each input's grids on the fly;
# mmdet pads every batch to a multiple of 32, as CMT needs. The
# classification features (1x1 conv to 1280, BN) are not built for
# featmap outputs: their checkpoint keys are reported as unexpected.
# Source: mmdet's ConvNeXt-T Mask R-CNN 3x recipe applied to CMT-S; our
# combination (the CMT paper reports COCO detection, no code or recipe was
# released).
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-cmt-s_8xb128_in1k/epoch_300.pth, keys
# 'backbone.*') or the official cmt_small.pth of ggjy/CMT.pytorch release-v1
# (converted on load).
pretrained = 'pretrain/cmt_small.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CMT',
        arch='cmt-s',
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512], num_outs=5))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.95, norm_decay_mult=0., bias_decay_mult=0.))
auto_scale_lr = dict(base_batch_size=16, enable=False)
