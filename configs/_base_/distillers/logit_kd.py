# What logit distillation reads (function matching, single-image
# distillation): the logits of the student's classifier layer (head.fc of
# a LinearClsHead) and of the teacher's (teacher.head.fc), fed to the
# distiller's loss `loss_kd` as preds / target. A config adds that loss:
#     distiller=dict(
#         _base_.logit_kd_inputs,
#         losses=dict(loss_kd=dict(type='mmvitplug.KLDivergenceLoss', ...)))
logit_kd_inputs = dict(
    recorders=dict(
        logits=dict(source='head.fc'),
        teacher_logits=dict(source='teacher.head.fc')),
    loss_inputs=dict(loss_kd=dict(preds='logits', target='teacher_logits')))
