# The digits CaiT of sup-cait-4l192d-p4_1xb64_digits.py
# hard-distilled from the digits ResNet teacher
# (_teachers/resnet18-w32_digits.py, trained by
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py; train it first, or point
# model.teacher_ckpt at another checkpoint). CaiT has no
# distillation token: a second head reads the class-attention class token.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './sup-cait-4l192d-p4_1xb64_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=10,
        in_channels=192,
        dist_feature='pooled'),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5))),
)
