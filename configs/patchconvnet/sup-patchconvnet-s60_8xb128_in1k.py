# PatchConvNet-S60 trained on ImageNet-1k (https://arxiv.org/abs/2112.13692;
# 82.1 top-1, 25.2M parameters in the paper / official README).
# 8 GPUs x 128 images; lr = 5e-4 * 1024 / 512 through auto_scale_lr.
#
# NOTE: the exact training hyper-parameters of the paper's appendix could not
# be checked when this config was written. It uses the DeiT recipe of this
# repository (AdamW, 300 epochs, RandAugment, Mixup/CutMix, repeated
# augmentation, label smoothing) with the official code's choices for the
# model: LayerScale init 1e-4 (S60), constant stochastic-depth rate over the
# trunk (0.1, the official main.py default), no weight decay on the class
# token, norms, biases and LayerScale. Check the optimiser, epochs and
# stochastic depth against the paper before a reproduction run.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.gamma_': dict(decay_mult=0.0),
        }))
