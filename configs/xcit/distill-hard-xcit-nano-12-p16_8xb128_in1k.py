# XCiT-N12/16 hard-distilled from a RegNetY-16GF teacher on ImageNet-1k at
# 224 (72.2% top-1, the "224 §" column of the official README, weights
# xcit_nano_12_p16_224_dist.pth; https://arxiv.org/abs/2106.09681), as the
# official code distils: XCiT has no distillation token and no second head.
# Its training forward returns the one head's logits twice ((x, x) in the
# official xcit.py), and the official DeiT loss (losses.py, main.py
# --distillation-type hard, alpha 0.5, teacher regnety_160) uses them for
# both terms: loss = 1/2 CE(head, labels) + 1/2 CE(head, teacher arg-max),
# on the same mixed images; inference is the same head. Here the distiller
# records the output of the single LinearClsHead ('head') as both the
# class and the distillation logits of mmvitplug.DeiTDistillLoss. The
# recipe of sup-xcit-nano-12-p16_8xb128_in1k.py (DeiT's for 400 epochs;
# distillation changes only the loss in the official main.py).
# Teacher: configs/_teachers/regnety160_in1k.py (RegNetY-16GF; how to
# convert its official checkpoint). A trained student loads into the plain
# ImageClassifier of the sup config (same backbone and head keys).
# Source: official XCiT README ("§: distillation") and code (xcit.py
# forward, main.py / losses.py hard distillation defaults) on the recipe
# of sup-xcit-nano-12-p16_8xb128_in1k.py.
_base_ = [
    './sup-xcit-nano-12-p16_8xb128_in1k.py',
    '../_teachers/regnety160_in1k.py',
    '../_base_/distillers/deit_one_head.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=1000,
        in_channels=128,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.deit_one_head_distiller_inputs,
        losses=dict(
            loss_deit=dict(
                type='mmvitplug.DeiTDistillLoss', distill_type='hard',
                alpha=0.5,
                base_loss=dict(
                    type='LabelSmoothLoss', label_smooth_val=0.1,
                    mode='original')))),
)
