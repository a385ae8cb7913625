# DeiT student hard-distilled from the digits ResNet teacher
# (sup-resnet18_1xb64_digits.py): the student of sup-deit-tiny_1xb16_digits.py
# with a distillation token, DeiTDistillHead and
# 1/2 CE(class token, labels) + 1/2 CE(distillation token, teacher arg-max).
# Train the teacher first:
#   python tools/train.py configs/deit/sup-resnet18_1xb64_digits.py
# or point teacher_ckpt at another teacher checkpoint with
#   --cfg-options model.teacher_ckpt=PATH
_base_ = './sup-deit-tiny_1xb16_digits.py'

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
    # must match sup-resnet18_1xb64_digits.py
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet', depth=18, stem_channels=32, base_channels=32),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=256),
    ),
    teacher_ckpt='work_dirs/sup-resnet18_1xb64_digits/epoch_6.pth',
    distiller=dict(
        recorders=dict(
            cls_logits=dict(source='head.head'),
            dist_logits=dict(source='head.head_dist'),
            teacher_logits=dict(source='teacher.head')),
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5)),
        loss_inputs=dict(
            loss_deit=dict(
                cls_logits='cls_logits',
                dist_logits='dist_logits',
                teacher_logits='teacher_logits',
                target='targets'))),
)
