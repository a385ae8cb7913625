# LeViT-128S trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2104.01136). The paper's models are trained with
# hard distillation (distill-hard-levit-128s_8xb256_in1k.py, 76.6 top-1);
# this is the same recipe with one BN + Linear head on the labels.
# Official main.py defaults: 8 GPUs x 256 images, AdamW,
# lr 5e-4 * total_batch / 512 (2e-3), weight decay 0.025 (none on norms,
# biases and attention biases), 5 warm-up epochs, cosine to 1e-5 over 1000
# epochs, label smoothing 0.1, Mixup 0.8 / CutMix 1.0, RandAugment, random
# erasing 0.25, repeated augmentation, model EMA 0.99996, adaptive
# gradient clipping 0.01 (timm's 'agc': mmvitplug.ClipOptimWrapper);
# evaluation: resize 256 + center crop 224.
# Source: official LeViT main.py defaults (facebookresearch/LeViT 3772b8e)
# and README training command.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.LeViT', arch='levit-128s',
                  drop_path_rate=0.),
    neck=None,
    head=dict(
        type='mmvitplug.LeViTClsHead',
        num_classes=1000,
        in_channels=384,
        distilled=False,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
)

train_dataloader = dict(batch_size=256)
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='mmvitplug.ClipOptimWrapper',
    optimizer=dict(weight_decay=0.025),
    # official main.py: --clip-grad 0.01 --clip-mode agc (all parameters)
    clip_grad=dict(_delete_=True, type='agc', clip_factor=0.01),
    paramwise_cfg=dict(
        custom_keys={'.attention_biases': dict(decay_mult=0.0)}))

epochs = 1000
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-4,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=5,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
