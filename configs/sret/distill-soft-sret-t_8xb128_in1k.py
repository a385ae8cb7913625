# SReT-T distilled on ImageNet-1k (https://arxiv.org/abs/2111.05297; 77.6
# top-1 in the official README): the official README's distillation, "the
# soft label only (as MEAL V2)": the student's one head is trained on the
# cross-entropy with the teacher's softmax (SReT's kd_loss.KDLoss, whose
# gradient is that of KL(teacher || student) at temperature 1, here
# DeiTDistillLoss(distill_type='soft', alpha=1.0, tau=1.0): no
# ground-truth term), through mmvitplug.DistillationClassifier (the frozen
# teacher sees the same mixed images). The official teacher is not named
# in the released sources (FKD / MEAL V2 use soft labels of strong
# ensembles; unverified): this config uses the RegNetY-16GF teacher of the
# DeiT distillation configs. Recipe otherwise sup-sret-t_8xb128_in1k.py.
# Source: official README (soft-label distillation) and kd_loss.py.
_base_ = [
    './sup-sret-t_8xb128_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit_one_head.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_one_head_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='soft',
                alpha=1.0, tau=1.0, kl_reduction='batchmean'))),
)
