# Linear evaluation (frozen backbone) of DINO's DeiT-S/16 on ImageNet-1k:
# the official eval_linear.py protocol for ViT-S (official: 74.0% top-1
# after the 100-epoch "vanilla" pretraining, 77.0% after 800 epochs).
# Source: official facebookresearch/dino eval_linear.py defaults
# (facebookresearch/dino@7c446df) and README "Evaluation: Linear
# classification on ImageNet" (8 GPUs x 128, n_last_blocks 4 for ViT-S).
#
# - features: the class tokens of the last 4 blocks, each after the final
#   norm (get_intermediate_layers), concatenated (4 x 384 = 1536 dims):
#   out_indices (8, 9, 10, 11), norm_all_outputs, mmvitplug.ConcatOutputs;
#   the backbone is frozen (frozen_stages=12: every part, in eval mode);
# - one linear layer, weights N(0, 0.01), bias 0; cross-entropy, no label
#   smoothing;
# - SGD momentum 0.9, weight decay 0, lr 0.001 x total batch / 256
#   (auto_scale_lr: 0.004 for 8 x 128), cosine to 0 over 100 epochs,
#   stepped per epoch as the official scheduler, no warm-up;
# - train: RandomResizedCrop 224 (bilinear, torchvision's default), flip
#   0.5; val: Resize 256 (bicubic) + CenterCrop 224.
# The backbone weights: tools/model_converters/export_backbone.py on the
# pretraining checkpoint of dino-deit-small_8xb64_in1k.py (its EMA
# teacher) to the init_cfg path below, or any path with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

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
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

n_last_blocks = 4
model = dict(
    type='ImageClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        out_indices=tuple(range(12 - n_last_blocks, 12)),
        out_type='cls_token',
        norm_all_outputs=True,
        frozen_stages=12,
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='work_dirs/dino-deit-small_8xb64_in1k/backbone.pth')),
    neck=dict(type='mmvitplug.ConcatOutputs', num_inputs=n_last_blocks),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384 * n_last_blocks,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.)))

max_epochs = 100
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]
auto_scale_lr = dict(enable=True, base_batch_size=256)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='auto'))
