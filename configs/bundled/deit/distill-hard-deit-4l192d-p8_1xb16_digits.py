# DeiT hard-distilled from the digits ResNet teacher
# (_teachers/resnet18-w32_digits.py, trained by
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py): the student of
# sup-deit-4l192d-p8_1xb16_digits.py with a distillation token,
# DeiTDistillHead and
# 1/2 CE(class token, labels) + 1/2 CE(distillation token, teacher arg-max),
# the DeiT paper's hard distillation at digits scale.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
# or point teacher_ckpt at another teacher checkpoint with
#   --cfg-options model.teacher_ckpt=PATH
_base_ = [
    './sup-deit-4l192d-p8_1xb16_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit.py',
]

model = dict(
    _delete_=True,
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        distilled=True),
    head=dict(
        type='mmvitplug.DeiTDistillHead',
        num_classes=10,
        in_channels=192),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5))),
)
