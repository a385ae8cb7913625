# LeViT-128S hard-distilled from a RegNetY-16GF teacher on ImageNet-1k,
# the paper's training (https://arxiv.org/abs/2104.01136: 76.6 top-1,
# official README 76.5): two BN + Linear heads on the pooled tokens,
# loss = 1/2 CE(head, labels) + 1/2 CE(head_dist, teacher arg-max),
# inference averages the heads. Through mmvitplug.DistillationClassifier
# (mmpretrain's LeViT raises in distillation training).
# Teacher: configs/_teachers/regnety160_in1k.py (RegNetY-16GF, how to
# convert its official checkpoint).
# Source: official LeViT main.py defaults (hard distillation, alpha 0.5,
# teacher regnety_160) on the recipe of sup-levit-128s_8xb256_in1k.py.
_base_ = [
    './sup-levit-128s_8xb256_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='mmvitplug.LeViTClsHead',
        num_classes=1000,
        in_channels=384,
        distilled=True),
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
