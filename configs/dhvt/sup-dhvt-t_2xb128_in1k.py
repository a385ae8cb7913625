# DHVT-T (patch 16) trained on ImageNet-1k at 224
# (https://arxiv.org/abs/2210.05958; 77.6 top-1, 6.2M parameters in the
# official README). Recipe of the official run_code_imn.sh (2 GPUs x 128
# images, lr 5e-4 scaled by total batch / 512 as its main.py does, 10
# warm-up epochs, 300 epochs) and main.py's DeiT defaults: AdamW, weight
# decay 0.05, warm-up from 1e-6, cosine to 1e-5, stochastic depth 0.1,
# label smoothing 0.1, RandAugment rand-m9-mstd0.5-inc1, random erasing
# 0.25, repeated augmentation, Mixup 0.8 / CutMix 1.0; evaluation resize
# 256 then centre crop 224 (../_base_/datasets/imagenet_deit.py).
# Weight decay as timm's optimizer factory with the model's
# no_weight_decay(): none on 1-D tensors (biases, norms) and the class
# token, but on the SOPE affines and the head-token position embeddings
# (attn.pos_embed), which are not 1-D. Not reproduced: the official
# ModelEma (decay 0.99996), kept aside and never evaluated by main.py.
# Source: official ArieSeirack/DHVT run_code_imn.sh, main.py and
# vision_transformer.py (dhvt_tiny_imagenet_patch16).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DHVT',
        arch='dhvt-t',
        drop_path_rate=0.1),
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

# 2 GPUs x 128 images: lr 5e-4 x 256 / 512 by auto_scale_lr
train_dataloader = dict(batch_size=128)

lr = 5e-4
warmup_epochs = 10
epochs = 300
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        flat_decay_mult=0.0,
        custom_keys={'.cls_token': dict(decay_mult=0.0)}))
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
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
