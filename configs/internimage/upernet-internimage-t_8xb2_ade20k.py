# UperNet with an InternImage-T backbone on ADE20K 512x512, 160k iterations,
# as the official segmentation code (https://arxiv.org/abs/2211.05778;
# official segmentation/configs/ade20k/upernet_internimage_t_512_160k_
# ade20k.py: 47.9 mIoU, 48.1 multi-scale in the README), translated from
# mmseg 0.27 to mmseg 1.x: the four levels (strides 4-32) into UPerHead
# (512 channels), the FCN auxiliary head (256 channels, loss weight 0.4) on
# level 2, SyncBN in the heads; 8 GPUs x 2 crops of 512 (resize to
# 2048x512 x 0.5-2.0, crop with cat_max_ratio 0.75, flip, photometric
# distortion); AdamW lr 6e-5 (betas 0.9 / 0.999), weight decay 0.05 except
# on 1-D parameters and biases (the official
# CustomLayerDecayOptimizerConstructor rule; ours with the official layer
# ids and layer_decay_rate 1.0: no layer-wise decay), no gradient clipping,
# 1500 linear warm-up iterations from 1e-6 x lr, then poly (power 1) decay
# to 0 (the mmseg Swin UperNet config inherited here has this schedule, as
# mmseg's sequential schedulers: mmcv's poly also decayed during the
# warm-up), stochastic depth 0.2, fp32; whole-image evaluation of the
# image resized to 2048x512 (kept ratio) and then to a multiple of 32
# (ResizeToMultiple, as officially), every 16k iterations, keeping the best
# mIoU; a checkpoint every 1000 iterations, the last one kept. Layer scale:
# as the detection config, the official T is built with layer_scale=1.0
# (gammas at 1.0, absent from the ImageNet checkpoint: the identity at the
# start, then trained), and so is the arch dict below.
# Source: official segmentation/configs/ade20k/upernet_internimage_t_512_
# 160k_ade20k.py, its _base_ files and segmentation/README.md.
_base_ = [
    'mmseg::swin/'
    'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the official ImageNet-1k checkpoint (converted on load) or an mmvitplug
# one (keys 'backbone.*')
pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_t_1k_224.pth')
channels = [64, 128, 256, 512]

model = dict(
    pretrained=None,
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
    decode_head=dict(in_channels=channels, num_classes=150),
    auxiliary_head=dict(in_channels=channels[2], num_classes=150),
    test_cfg=dict(mode='whole'))

test_scale = (2048, 512)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    # loaded after the resizes: the metric compares with the original labels
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    # its defaults: no weight decay on norms and other 1-D parameters
    paramwise_cfg=dict(layer_decay_rate=1.0))

# official checkpoint_config / evaluation
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=1000, max_keep_ckpts=1, save_best='mIoU'))
