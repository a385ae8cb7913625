# UperNet with an ImageNet-22k InternImage-L backbone on ADE20K 640x640,
# 160k iterations (official upernet_internimage_l_640_160k_ade20k.py: 53.9
# mIoU, 54.1 multi-scale in the README): the recipe of
# upernet-internimage-t_8xb2_ade20k.py (8 GPUs x 2, whole-image evaluation
# after ResizeToMultiple 32, 1500 warm-up iterations, poly decay, fp32) with
# the official L config's differences: crops of 640 (resize to 2560x640 x
# 0.5-2.0, mmseg's ade20k_640x640 pipeline), evaluation at 2560x640, AdamW lr
# 2e-5, weight decay 0.05, layer-wise lr decay 0.94 over the official layer
# ids (block j at depth j + 1 of 37 + 2: the official num_layers=37;
# offset_lr_scale 1.0 officially, no offset multiplier), gradient-norm
# clipping 0.1, stochastic depth 0.4, the ImageNet-22k checkpoint.
# Source: official segmentation/configs/ade20k/upernet_internimage_l_640_
# 160k_ade20k.py and segmentation/README.md.
_base_ = ['./upernet-internimage-t_8xb2_ade20k.py']

# the official ImageNet-22k checkpoint (converted on load) or an mmvitplug
# one (keys 'backbone.*')
pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_l_22k_192to384.pth')
channels = [160, 320, 640, 1280]
crop_size = (640, 640)
scale = (2560, 640)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='internimage-l',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize', scale=scale, ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    # loaded after the resizes: the metric compares with the original labels
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(lr=2e-5),
    paramwise_cfg=dict(layer_decay_rate=0.94),
    clip_grad=dict(max_norm=0.1, norm_type=2))
