# ResMLP-12 hard-distilled from a RegNetY-16GF teacher on ImageNet-1k, as the
# distilled ResMLPs of the paper (https://arxiv.org/abs/2105.03404: S12 77.8
# top-1 distilled, official README). ResMLP has no distillation token: the
# student gets a second linear head on its average-pooled tokens
# (DeiTDistillHead dist_feature='pooled'); loss = 1/2 CE(head, labels)
# + 1/2 CE(head_dist, teacher arg-max); inference averages the two heads.
# Teacher weights: see configs/deit/distill-hard-deit-tiny_8xb128_in1k.py for
# the one-line conversion of the official regnety_160 checkpoint.
_base_ = './sup-resmlp-12_8xb128_in1k.py'

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=1000,
        in_channels=384,
        dist_feature='pooled'),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='TIMMBackbone', model_name='regnety_160', pretrained=False),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=3024)),
    teacher_ckpt='checkpoints/regnety_160_teacher.pth',
    distiller=dict(
        recorders=dict(
            cls_logits=dict(source='head.head'),
            dist_logits=dict(source='head.head_dist'),
            teacher_logits=dict(source='teacher.head')),
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5,
                base_loss=dict(
                    type='LabelSmoothLoss', label_smooth_val=0.1,
                    mode='original'))),
        loss_inputs=dict(
            loss_deit=dict(
                cls_logits='cls_logits',
                dist_logits='dist_logits',
                teacher_logits='teacher_logits',
                target='targets'))),
)
