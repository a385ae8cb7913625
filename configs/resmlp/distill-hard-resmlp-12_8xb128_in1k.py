# ResMLP-12 hard-distilled from a RegNetY-16GF teacher on ImageNet-1k, as the
# distilled ResMLPs of the paper (https://arxiv.org/abs/2105.03404: S12 77.8
# top-1 distilled, official README). ResMLP has no distillation token: the
# student gets a second linear head on its average-pooled tokens
# (DeiTDistillHead dist_feature='pooled'); loss = 1/2 CE(head, labels)
# + 1/2 CE(head_dist, teacher arg-max); inference averages the two heads.
# Teacher: configs/_teachers/regnety160_in1k.py (RegNetY-16GF; how to
# convert its official checkpoint).
# Source: ResMLP paper / official README (distilled S12) on the recipe
# of sup-resmlp-12_8xb128_in1k.py.
_base_ = [
    './sup-resmlp-12_8xb128_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=1000,
        in_channels=384,
        dist_feature='pooled'),
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
