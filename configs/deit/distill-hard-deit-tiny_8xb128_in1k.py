# DeiT-Ti with a distillation token, hard-distilled from a RegNetY-16GF
# teacher on ImageNet-1k (https://arxiv.org/abs/2012.12877; DeiT-Ti⚗
# 74.5 top-1 in the paper): loss = 1/2 CE(class token, labels)
# + 1/2 CE(distillation token, teacher arg-max), inference averages the two
# heads. The teacher sees the same augmented, mixed images as the student.
# The distiller records the logits of the two student heads (head.head,
# head.head_dist) and of the teacher (teacher.head) and feeds them with the
# targets to DeiTDistillLoss, which holds the whole objective.
#
# Teacher weights: the RegNetY-16GF of the DeiT paper (82.9 top-1,
# https://dl.fbaipublicfiles.com/deit/regnety_160-a5fe301d.pth, timm
# 'regnety_160.deit_in1k') in the layout of the teacher classifier below
# (timm keys 'head.fc.*' stay, every other key gets 'backbone.timm_model.'):
#
#   python -c "import torch; sd = torch.load('regnety_160-a5fe301d.pth', \
#     map_location='cpu', weights_only=True); sd = sd.get('model', sd); \
#     torch.save({'state_dict': {(k if k.startswith('head.fc.') else \
#     'backbone.timm_model.' + k): v for k, v in sd.items()}}, \
#     'checkpoints/regnety_160_teacher.pth')"
#
# The checkpoint (a path or an URL) is loaded completely when the model is
# built (a missing file, or one that does not fill the teacher, is an error)
# and is not saved in the student's checkpoints; a trained student also
# loads into the plain ImageClassifier(backbone=<this backbone>,
# head=<this head>).
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch='deit-tiny',
        distilled=True,
        drop_path_rate=0.1),
    head=dict(
        type='mmvitplug.DeiTDistillHead',
        num_classes=1000,
        in_channels=192,
    ),
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
