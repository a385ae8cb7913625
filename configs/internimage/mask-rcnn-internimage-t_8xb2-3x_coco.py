# Mask R-CNN 3x with an InternImage-T backbone on COCO, as the official
# detection code (https://arxiv.org/abs/2211.05778; official
# detection/configs/coco/mask_rcnn_internimage_t_fpn_3x_coco.py: 49.1 box /
# 43.7 mask AP in the README), translated from mmdet 2 to mmdet 3: the
# model and optimizer of mask-rcnn-internimage-t_8xb2-1x_coco.py (FPN on
# the four levels, AdamW lr 1e-4 for 8 x 2 images, weight decay 0.05 except
# on 1-D parameters and biases, no layer-wise decay, stochastic depth 0.2,
# no gradient clipping, fp32; the same note on the official T's layer
# scale) with the official 3x augmentation, "from DETR / Sparse R-CNN":
# horizontal flip, then either a resize of the short side to one of
# 480..800 (step 32, long side <= 1333) or a resize to 400 / 500 / 600, a
# random absolute-range crop of 384..600 (empty crops allowed), and the
# 480..800 resize; mmdet 3's swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x
# config inherited here has this pipeline (RandomChoice of
# RandomChoiceResize / RandomCrop, as mmdet 2's AutoAugment of Resize
# lists with multiscale_mode='value'); 36 epochs with steps at 27 and 33
# after 500 linear warm-up iterations from 0.001 x lr (the official
# schedule_3x.py; the mmdet 3 Swin config warms up for 1000).
# Source: official detection/configs/coco/mask_rcnn_internimage_t_fpn_3x_
# coco.py, detection/configs/_base_/schedules/schedule_3x.py and
# detection/README.md.
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the official ImageNet-1k checkpoint (converted on load) or an mmvitplug
# one (keys 'backbone.*')
pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_t_1k_224.pth')
channels = [64, 128, 256, 512]

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.InternImage',
        # the official detection / segmentation InternImage-T: layer scales
        # initialised at 1.0 (absent from the ImageNet checkpoint: reported
        # missing on load, the identity at the start, then trained)
        arch=dict(
            channels=64,
            depths=[4, 4, 18, 4],
            groups=[4, 8, 16, 32],
            layer_scale=1.0),
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=channels))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # its defaults: no weight decay on norms and other 1-D parameters
    paramwise_cfg=dict(layer_decay_rate=1.0))
max_epochs = 36
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
# official checkpoint_config / evaluation
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
