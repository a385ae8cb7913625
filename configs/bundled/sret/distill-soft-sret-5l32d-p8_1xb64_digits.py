# SReT soft-label distilled from the digits ResNet teacher
# (_teachers/resnet18-w32_digits.py, trained by
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py): the student of
# sup-sret-5l32d-p8_1xb64_digits.py, its one head trained on the teacher's
# softmax only (SReT's official distillation, soft labels as MEAL V2:
# DeiTDistillLoss soft, alpha 1.0, tau 1.0) through
# mmvitplug.DistillationClassifier.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
# or point teacher_ckpt at another teacher checkpoint with
#   --cfg-options model.teacher_ckpt=PATH
_base_ = [
    './sup-sret-5l32d-p8_1xb64_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit_one_head.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(_delete_=True, type='LinearClsHead', num_classes=10,
              in_channels=128),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_one_head_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='soft',
                alpha=1.0, tau=1.0))),
)
