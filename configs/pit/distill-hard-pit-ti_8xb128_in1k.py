# PiT-Ti with a distillation token, hard-distilled from a RegNetY-16GF
# teacher on ImageNet-1k as DeiT (https://arxiv.org/abs/2103.16302; 74.6
# top-1, the "+Distill" column of the official README, weights
# pit_ti_distilled): the class and distillation tokens both go through the
# stages (pooled by the fc of each pooling layer) and the final norm;
# loss = 1/2 CE(class token, labels) + 1/2 CE(distillation token, teacher
# arg-max), inference averages the two heads (DeiTDistillHead). The
# recipe of sup-pit-ti_8xb128_in1k.py (DeiT's), the distiller of the DeiT
# configs (_base_/distillers/deit.py).
# Teacher: configs/_teachers/regnety160_in1k.py (RegNetY-16GF; how to
# convert its official checkpoint). A trained student also loads into the
# plain ImageClassifier(backbone=<this backbone>, head=<this head>).
# Source: PiT official README ("+Distill") on the DeiT paper's hard
# distillation recipe.
_base_ = [
    './sup-pit-ti_8xb128_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit.py',
]
embed_dims = 256

model = dict(
    type='mmvitplug.DistillationClassifier',
    backbone=dict(distilled=True),
    head=dict(
        _delete_=True,
        type='mmvitplug.DeiTDistillHead',
        num_classes=1000,
        in_channels=embed_dims),
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
