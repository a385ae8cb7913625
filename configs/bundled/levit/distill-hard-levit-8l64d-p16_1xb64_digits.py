# The digits LeViT of sup-levit-8l64d-p16_1xb64_digits.py hard-distilled
# from the digits ResNet teacher (_teachers/resnet18-w32_digits.py, trained
# by bundled/resnet/sup-resnet18-w32_1xb64_digits.py; train it first, or
# point model.teacher_ckpt at another checkpoint), as the LeViT paper
# trains: two BN + Linear heads on the pooled tokens,
# 1/2 CE(head, labels) + 1/2 CE(head_dist, teacher arg-max), inference
# averages them. mmpretrain's LeViT raises in this setting; here it goes
# through mmvitplug.DistillationClassifier.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './sup-levit-8l64d-p16_1xb64_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.LeViTClsHead',
        num_classes=10,
        in_channels=128,
        distilled=True),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5))),
)
