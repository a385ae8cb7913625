# DeiT-Ti with a distillation token, hard-distilled from a RegNetY-16GF
# teacher on ImageNet-1k (https://arxiv.org/abs/2012.12877; DeiT-Ti⚗
# 74.5 top-1 in the paper): loss = 1/2 CE(class token, labels)
# + 1/2 CE(distillation token, teacher arg-max), inference averages the two
# heads. The teacher sees the same augmented, mixed images as the student.
# The distiller records the logits of the two student heads (head.head,
# head.head_dist) and of the teacher (teacher.head) and feeds them with the
# targets to DeiTDistillLoss, which holds the whole objective.
#
# Teacher: configs/_teachers/regnety160_in1k.py (RegNetY-16GF, how to
# convert its official checkpoint). A trained student also loads into the
# plain ImageClassifier(backbone=<this backbone>, head=<this head>).
# Source: DeiT paper (hard distillation) on its Table 9 recipe.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/schedules/deit_adamw_300e.py',
    '../_base_/default_runtime.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit.py',
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
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5,
                base_loss=dict(
                    type='LabelSmoothLoss', label_smooth_val=0.1,
                    mode='original')))),
)
