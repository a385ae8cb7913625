# Cascade Mask R-CNN 3x with a RevCol-T backbone on COCO, as the official
# detection code (https://arxiv.org/abs/2212.11696; official
# Detection/configs/revcol/cascade_mask_rcnn_revcol_tiny_3x_in1k.py: 50.8
# box / 44.0 mask AP): the 4 levels of the last column (strides 4-32,
# plain, non-reversible columns as officially: save_memory=False) into
# FPN, cascade heads with 4 convolutions + 1 FC and GIoU loss, DETR-style
# multi-scale + crop augmentation, AdamW lr 2e-4 (batch 16), weight decay
# 0.05 except on 1-D tensors, biases and the shortcuts alpha, layer-wise lr
# decay 0.85 over the official layer ids (level l of column i: the diagonal
# i + blocks below; mmvitplug.RevCol.get_layer_depth), stochastic depth
# 0.3, 36 epochs with steps at 27 and 33, mixed precision: the mmdet
# ConvNeXt-T cascade 3x config inherited here is the same recipe (the
# official one was adapted from ConvNeXt's). Use SyncBN in the heads for
# multi-GPU training, as officially.
# Source: official RevCol detection config (cascade_mask_rcnn_revcol_tiny_
# 3x_in1k.py) and its layer_decay_optimizer_constructor.py.
_base_ = [
    'mmdet::convnext/'
    'cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_'
    'coco.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# ImageNet checkpoint of the backbone: an mmvitplug checkpoint (keys
# 'backbone.*') or the official one, converted on load:
# https://github.com/megvii-research/RevCol/releases/download/checkpoint/
# revcol_tiny_1k.pth (its heads are reported unused)
pretrained = 'pretrain/revcol_tiny_1k.pth'
channels = [64, 128, 256, 512]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.RevCol',
        arch='revcol-t',
        out_indices=(0, 1, 2, 3),
        reversible=False,
        drop_path_rate=0.3,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=channels))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.85,
        custom_keys={'.alpha': dict(decay_mult=0.)}))

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
