# Fine-tune a hard-distilled 224px DeiT-B⚗ at 384px with the same
# RegNetY-16GF teacher, which classifies the 384px images (DeiT-B⚗↑384,
# 84.5 top-1 in the paper). Schedule and pipeline of
# sup-deit-base-384_8xb64_in1k.py; teacher checkpoint: see
# distill-hard-deit-tiny_8xb128_in1k.py.
_base_ = './sup-deit-base-384_8xb64_in1k.py'

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
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='head.')),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='TIMMBackbone', model_name='regnety_160', pretrained=False),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=3024),
    ),
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
