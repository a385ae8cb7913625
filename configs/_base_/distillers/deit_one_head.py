# DeiT distillation (./deit.py) of a student with one head and no
# distillation token (XCiT and SReT, as their official code distils): the
# head's logits are both the class and the distillation logits read by
# `loss_deit`. A config adds that loss and uses
#   distiller=dict(_base_.deit_one_head_distiller_inputs, losses=...)
_base_ = ['./deit.py']

deit_one_head_distiller_inputs = dict(
    recorders=dict(
        cls_logits=dict(source='head'),
        dist_logits=dict(source='head'),
        teacher_logits=dict(source='teacher.head')),
    loss_inputs=_base_.deit_distiller_inputs['loss_inputs'])
