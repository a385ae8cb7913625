# GhostNet 1.0x trained on ImageNet-1k at 224 (CVPR 2020,
# https://arxiv.org/abs/1911.11907; 73.9 top-1, 5.2M parameters, 141M
# FLOPs). The paper trained in TensorFlow (the author in
# iamhankai/ghostnet.pytorch#3) and released no training script; the
# recipe is pieced together from:
# - lr 0.4 for a total batch of 1,024 on 8 GPUs (8 x 128 here;
#   auto_scale_lr rescales the lr): the author's advice in
#   iamhankai/ghostnet.pytorch#3, and the paper's value as we recall its
#   Sec. 4.2 ("most of the training settings of ShuffleNet, except lr 0.4
#   for batch 1,024 on 8 GPUs"); the paper's text could not be read here:
#   unverified;
# - the author's answers: 400 epochs (iamhankai/ghostnet.pytorch#18),
#   5 warm-up epochs and a cosine schedule (#3); the warm-up's start lr
#   (1e-6) and the cosine's end (0) are not stated: unverified;
# - the released TF code (ghostnet_tensorflow, eval-only but with the
#   training defaults): main.py: total batch 1024, 400 epochs, weight decay
#   4e-5, label smoothing 0.1, dropout keep 0.8 (dropout 0.2 before the
#   classifier); imagenet_utils.py: SGD with Nesterov momentum 0.9, L2 on
#   the kernels only (pattern '.*/W|...'): not on BN / biases (1-D here)
#   and not on the Ghost modules' cheap depth-wise kernels ('DW' in
#   myconv2d.py: the cheap_operation convolutions here); train
#   augmentation (main.py get_data): random-size crop of 8%-100% of the
#   area (49%-100% for widths < 1), aspect 3/4-4/3, bicubic (cv2), colour
#   jitter brightness / contrast / saturation 0.4 in random order, flip;
#   evaluation: resize 256 (bicubic), centre crop 224. No Mixup / CutMix,
#   RandAugment, random erasing, repeated augmentation or EMA.
# Approximated: tensorpack's jitter does not clip (mmpretrain's does);
# TF's L2 loss term wd * sum(w^2) / 2 is SGD weight decay wd.
# Model: the official classifier (GAP, 1x1 conv to 1280 + ReLU, dropout,
# fc: mmvitplug.GhostNetClsHead), PyTorch's default initialisation as the
# official PyTorch model.
# Source: paper (lr, unverified), official ghostnet_tensorflow
# main.py / imagenet_utils.py / myconv2d.py defaults, author's answers in
# iamhankai/ghostnet.pytorch#3 and #18.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.GhostNet', arch='ghostnet-1.0x'),
    neck=None,
    head=dict(
        type='mmvitplug.GhostNetClsHead',
        num_classes=1000,
        in_channels=960,
        dropout_rate=0.2,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=None,  # PyTorch's default init, as the official model
    ),
)

# no Mixup / CutMix
data_preprocessor = dict(batch_augments=None)
crop_ratio_range = (0.08, 1.0)  # GoogleNetResize(crop_area_fraction=0.08)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=crop_ratio_range,
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='cv2',
        interpolation='bicubic'),
    # BrightnessScale((0.6, 1.4)), Contrast((0.6, 1.4)), Saturation(0.4),
    # in random order
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='cv2',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# 8 GPUs x 128 images
train_dataloader = dict(
    batch_size=128,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

lr = 0.4  # for a total batch of 1024, scaled by auto_scale_lr
warmup_epochs = 5
epochs = 400
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=lr, momentum=0.9, nesterov=True, weight_decay=4e-5),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        # the cheap depth-wise kernels ('DW') are not regularised
        custom_keys={'.cheap_operation.': dict(decay_mult=0.0)}),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
