# Fine-tune a hard-distilled 224px DeiT-B⚗ at 384px with the same
# RegNetY-16GF teacher, which classifies the 384px images (DeiT-B⚗↑384,
# 84.5 top-1 in the paper). Schedule and pipeline of
# sup-deit-base-384_8xb64_in1k.py (official README fine-tuning recipe).
# Teacher: configs/_teachers/regnety160_in1k.py.
#
# `pretrained` is the 224px distilled checkpoint: the checkpoint of
# distill-hard-deit-base_8xb128_in1k.py (mmvitplug layout), or the official
# deit_base_distilled_patch16_224-df68dfff.pth from
# https://dl.fbaipublicfiles.com/deit/ (converted on load, backbone and both
# heads).
# Source: DeiT paper (DeiT-B⚗↑384) and the official README
# fine-tuning command.
_base_ = [
    './sup-deit-base-384_8xb64_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit.py',
]

pretrained = 'work_dirs/distill-hard-deit-base_8xb128_in1k/epoch_300.pth'

model = dict(
    _delete_=True,
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-base-384',
        distilled=True,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        type='mmvitplug.DeiTDistillHead',
        num_classes=1000,
        in_channels=768,
        # mmvitplug.Pretrained converts the official layout for the heads too
        init_cfg=dict(
            type='mmvitplug.Pretrained', checkpoint=pretrained,
            prefix='head.', converter='DeiT')),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5,
                base_loss=dict(
                    type='LabelSmoothLoss', label_smooth_val=0.1,
                    mode='original')))),
)
