# Mask R-CNN 1x with an InternImage-T backbone on COCO, as the official
# detection code (https://arxiv.org/abs/2211.05778; official
# detection/configs/coco/mask_rcnn_internimage_t_fpn_1x_coco.py: 47.2 box /
# 42.5 mask AP in the README), translated from mmdet 2 to mmdet 3: the four
# levels (strides 4-32, 64 / 128 / 256 / 512 channels, through the level
# norms of the pre-norm T) into mmdet's FPN (256 channels, 5 levels), the
# standard Mask R-CNN heads, the single-scale 1333x800 pipeline with flips,
# 8 GPUs x 2 images, AdamW lr 1e-4, weight decay 0.05 except on 1-D
# parameters and biases (the official CustomLayerDecayOptimizerConstructor
# rule; our mmvitplug.LayerDecayOptimWrapperConstructor with the official
# layer ids and layer_decay_rate 1.0: no layer-wise decay), no gradient
# clipping, stochastic depth 0.2, 12 epochs with steps at 8 and 11 after
# 500 linear warm-up iterations from 0.001 x lr (the mmdet base inherited
# here is the same schedule), fp32 (fp16 is commented out officially).
# Layer scale: the official detection config builds InternImage-T with
# layer_scale=1.0 (gamma1 / gamma2 per block initialised at 1.0, then
# trained without weight decay), which the ImageNet InternImage-T
# checkpoint does not have; so does the arch dict below (the gammas are
# reported missing on load and start as the identity).
# Source: official detection/configs/coco/mask_rcnn_internimage_t_fpn_1x_
# coco.py, detection/mmcv_custom/custom_layer_decay_optimizer_constructor.py
# and detection/README.md.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the official ImageNet-1k checkpoint (converted on load) or an mmvitplug
# one (e.g. work_dirs/sup-internimage-t_8xb512_in1k/epoch_300.pth, keys
# 'backbone.*')
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

# 8 GPUs x 2 images
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
# official checkpoint_config / evaluation
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_best='auto'))
