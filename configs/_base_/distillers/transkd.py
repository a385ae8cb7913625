# TransKD-Base (https://arxiv.org/abs/2202.13393; official RuipingL/TransKD
# train/CSF.py, train_TransKDBase.py): a DistillationSegmentor whose
# distiller adds to the student's segmentation loss
# - CSF: the student's four stage maps (its backbone outputs) fused top down
#   (mmvitplug.CSFConnector, 64 mid channels) to the teacher's channels,
#   compared with the teacher's stage maps by ReviewKD's HCL loss, x 1.0;
# - PEA: each stage's patch-embedding tokens (mmseg MixVisionTransformer
#   `layers[i][0]`, after its LayerNorm) projected by a Linear to the
#   teacher's width, MSE with the teacher's patch-embedding tokens, stage
#   weights 0.1, 0.1, 0.5, 1.
# The channels are MiT-B0's (student) and MiT-B2's (teacher), the recorder
# paths mmseg's MixVisionTransformer's. A config inherits it beside its
# student and its teacher (a `_teachers/` file) and sets
#     model = dict(type='mmvitplug.DistillationSegmentor',
#                  teacher=_base_.teacher, teacher_ckpt=_base_.teacher_ckpt,
#                  distiller=_base_.transkd_distiller)
# TransKD-GL and -EA change it (./transkd_gl.py, ./transkd_ea.py).
student_channels = [32, 64, 160, 256]
teacher_channels = [64, 128, 320, 512]
embed_weights = [0.1, 0.1, 0.5, 1.0]
_stages = range(4)
transkd_distiller = dict(
    recorders=dict(
        # the backbone outputs: the 4 stage maps (N, C_i, H_i, W_i)
        student_stages=dict(source='backbone'),
        teacher_stages=dict(source='teacher.backbone'),
        # each stage's patch-embedding tokens (N, H_i W_i, C_i)
        **{
            f'embed{i + 1}': dict(
                source=f'backbone.layers.{i}.0', index=0)
            for i in _stages
        },
        **{
            f'teacher_embed{i + 1}': dict(
                source=f'teacher.backbone.layers.{i}.0', index=0)
            for i in _stages
        }),
    connectors=dict(
        csf=dict(
            type='mmvitplug.CSFConnector',
            in_channels=student_channels,
            out_channels=teacher_channels,
            mid_channels=64),
        **{
            f'pea{i + 1}': dict(
                type='mmvitplug.LinearConnector',
                in_channels=student_channels[i],
                out_channels=teacher_channels[i])
            for i in _stages
        }),
    losses=dict(
        loss_hcl=dict(type='mmvitplug.HCLLoss', loss_weight=1.0),
        **{
            f'loss_pea{i + 1}': dict(
                type='mmvitplug.HintLoss', loss_weight=embed_weights[i])
            for i in _stages
        }),
    loss_inputs=dict(
        loss_hcl=dict(
            preds=dict(recorder='student_stages', connector='csf'),
            target='teacher_stages'),
        **{
            f'loss_pea{i + 1}': dict(
                preds=dict(
                    recorder=f'embed{i + 1}', connector=f'pea{i + 1}'),
                target=f'teacher_embed{i + 1}')
            for i in _stages
        }))
