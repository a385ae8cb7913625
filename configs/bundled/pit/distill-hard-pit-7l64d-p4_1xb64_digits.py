# PiT hard-distilled from the digits ResNet teacher
# (_teachers/resnet18-w32_digits.py, trained by
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py): the student of
# sup-pit-7l64d-p4_1xb64_digits.py with a distillation token (pooled by
# the fc of each pooling layer, as in the official distilled PiTs),
# DeiTDistillHead and 1/2 CE(class token, labels) + 1/2 CE(distillation
# token, teacher arg-max), DeiT's hard distillation at digits scale.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
# or point teacher_ckpt at another teacher checkpoint with
#   --cfg-options model.teacher_ckpt=PATH
_base_ = [
    './sup-pit-7l64d-p4_1xb64_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(distilled=True),
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=10,
        in_channels=256),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5))),
)
