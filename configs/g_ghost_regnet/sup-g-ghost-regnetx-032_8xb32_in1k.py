# G-Ghost RegNetX-3.2GF trained on ImageNet-1k at 224 (IJCV 2022,
# https://arxiv.org/abs/2201.03297; the official README: 77.8 top-1,
# 10.5M parameters, 1.8B FLOPs, g_ghost_regnet_3.2g_77.8.pth). The official
# g_ghost_pytorch/readme.md: "Training and evaluation code follows the
# official pytorch example" (pytorch/examples imagenet/main.py), whose
# defaults are the recipe: SGD lr 0.1 for a batch of 256 (8 GPUs x 32
# here; auto_scale_lr rescales the lr), momentum 0.9, weight decay 1e-4 on
# every parameter (torch.optim.SGD over model.parameters(): biases and BN
# included), 90 epochs, lr x 0.1 every 30 epochs (by epoch), no warm-up,
# plain cross-entropy (no label smoothing); data: RandomResizedCrop 224
# (scale 0.08-1, ratio 3/4-4/3, bilinear), flip; evaluation: resize 256
# (bilinear), centre crop 224. No Mixup / CutMix, RandAugment, random
# erasing or EMA. The paper's own training details could not be read here
# (unverified: the README's statement is followed).
# Model: the official classifier (global average pooling, dropout 0.2,
# fc: GlobalAveragePooling + mmvitplug.DropoutLinearClsHead) with
# PyTorch's default fc init; the backbone's official Kaiming init.
# Source: official g_ghost_pytorch/readme.md and g_ghost_regnet.py
# (huawei-noah/Efficient-AI-Backbones f90e129); pytorch/examples
# imagenet/main.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.GGhostRegNet', arch='g-ghost-regnetx-032'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='mmvitplug.DropoutLinearClsHead',
        num_classes=1000,
        in_channels=1008,
        dropout_rate=0.2,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=None,  # PyTorch's default nn.Linear init, as officially
    ),
)

# no Mixup / CutMix
data_preprocessor = dict(batch_augments=None)
# torchvision's transforms (PIL, bilinear)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# 8 GPUs x 32 images (the example's batch of 256)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

epochs = 90
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='StepLR',
        step_size=30,
        gamma=0.1,
        by_epoch=True,
        begin=0,
        end=epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256, enable=True)
