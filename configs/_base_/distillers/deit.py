# What DeiT distillation reads (https://arxiv.org/abs/2012.12877): the
# logits of the two heads of mmvitplug.DeiTDistillHead (class token:
# head.head; distillation token or second pooled head: head.head_dist), the
# teacher's logits (teacher.head) and the batch targets, fed to the
# distiller's loss `loss_deit`. A config adds that loss:
#     distiller=dict(
#         _base_.deit_distiller_inputs,
#         losses=dict(loss_deit=dict(type='mmvitplug.DeiTDistillLoss', ...)))
deit_distiller_inputs = dict(
    recorders=dict(
        cls_logits=dict(source='head.head'),
        dist_logits=dict(source='head.head_dist'),
        teacher_logits=dict(source='teacher.head')),
    loss_inputs=dict(
        loss_deit=dict(
            cls_logits='cls_logits',
            dist_logits='dist_logits',
            teacher_logits='teacher_logits',
            target='targets')))
