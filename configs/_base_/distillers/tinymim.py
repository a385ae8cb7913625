# TinyMIM (https://arxiv.org/abs/2301.01296) relation distillation: a
# DistillationClassifier without a head whose distiller compares the Q-K and
# V-V relations of one student attention and one teacher attention (KL per
# head and token, official models_tinymim.py forward_kd_loss), qk + vv, no
# label term. A config inherits it with the teacher (a `_teachers/mae-*`
# file: `teacher`, `teacher_ckpt`, `teacher_heads`) and sets the backbone's
# arch, `teacher` / `teacher_ckpt` and both recorders' `source` (the
# student recorder also `num_heads=_base_.teacher_heads`: the official
# student's last block has the teacher's head count). Each recorder records
# both relations of its attention in one pass (a dict), and each loss takes
# its key.
_relations = dict(type='AttentionRelations')
model = dict(
    type='mmvitplug.DistillationClassifier',
    # the official students: drop path 0.1 in every block
    backbone=dict(
        type='mmvitplug.DeiT', drop_path_rate=0.1, drop_path_mode='uniform'),
    neck=None,
    head=None,
    distiller=dict(
        recorders=dict(student=_relations, teacher=_relations),
        losses=dict(
            loss_qk=dict(type='mmvitplug.RelationKLLoss'),
            loss_vv=dict(type='mmvitplug.RelationKLLoss')),
        loss_inputs=dict(
            loss_qk=dict(
                preds=dict(recorder='student', key='qk'),
                target=dict(recorder='teacher', key='qk')),
            loss_vv=dict(
                preds=dict(recorder='student', key='vv'),
                target=dict(recorder='teacher', key='vv')))))
