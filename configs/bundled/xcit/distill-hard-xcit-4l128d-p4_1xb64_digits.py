# The digits XCiT of sup-xcit-4l128d-p4_1xb64_digits.py hard-distilled
# from the digits ResNet teacher (_teachers/resnet18-w32_digits.py, trained
# by bundled/resnet/sup-resnet18-w32_1xb64_digits.py; train it first, or
# point model.teacher_ckpt at another checkpoint), as the official XCiT
# code distils (configs/xcit/distill-hard-xcit-nano-12-p16_8xb128_in1k.py):
# no distillation token, the one head's logits in both terms,
# 1/2 CE(head, labels) + 1/2 CE(head, teacher arg-max); inference is the
# same head.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './sup-xcit-4l128d-p4_1xb64_digits.py',
    '../../_teachers/resnet18-w32_digits.py',
    '../../_base_/distillers/deit_one_head.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_one_head_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5))),
)
