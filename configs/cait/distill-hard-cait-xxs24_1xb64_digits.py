# The digits CaiT of sup-cait-xxs24_1xb64_digits.py hard-distilled from the
# digits ResNet teacher (configs/deit/sup-resnet18_1xb64_digits.py; train it
# first, or point model.teacher_ckpt at another checkpoint). CaiT has no
# distillation token: a second head reads the class-attention class token.
_base_ = './sup-cait-xxs24_1xb64_digits.py'

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=10,
        in_channels=192,
        dist_feature='pooled'),
    # must match configs/deit/sup-resnet18_1xb64_digits.py
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet', depth=18, stem_channels=32, base_channels=32),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=256)),
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
