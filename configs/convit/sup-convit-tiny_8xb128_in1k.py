# ConViT-Ti trained on ImageNet-1k (https://arxiv.org/abs/2103.10697; the
# official checkpoint gives 73.1 top-1, README "Acc@1 73.116"). ConViT is
# trained with DeiT's recipe and the official main.py defaults: AdamW, lr
# 5e-4 * total_batch / 512 (auto_scale_lr), weight decay 0.05, 5 warm-up
# epochs, cosine over 300 epochs, stochastic depth 0.1 (linear over the
# blocks), label smoothing 0.1, Mixup 0.8 / CutMix 1.0, RandAugment
# m9-mstd0.5, random erasing 0.25, repeated augmentation, evaluation at crop
# ratio 0.875 (imagenet_deit.py). As timm's optimizer factory used by the
# official code, 1-D parameters (biases, norms, the GPSA gates), pos_embed
# and cls_token get no weight decay. 8 GPUs x 128 images (the official
# README trains ConViT-Ti on 4 GPUs x 256: the same total batch).
# Source: ConViT paper (DeiT's hyper-parameters, 300 epochs) and the
# official main.py defaults / README command.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.ConViT', arch='convit-tiny', drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(paramwise_cfg=dict(flat_decay_mult=0.0))
