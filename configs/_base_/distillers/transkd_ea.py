# TransKD-EA (https://arxiv.org/abs/2202.13393; official train/CSF_EA.py):
# what it changes in TransKD-Base's distiller (./transkd.py): each PEA
# projection becomes an Embedding Assistant
# (mmvitplug.EmbeddingAssistantConnector): per stage i, the student's
# projected patch embedding blended with a second patch embedding of the
# same input (the image for stage 1: 7x7 stride 4; the previous stage map
# otherwise: 3x3 stride 2; to the teacher's width, LayerNorm), by trained
# weights starting at 0.1 i and 0.1 (i + 4) (official). Channels: MiT-B0
# (student) -> MiT-B2 (teacher), as ./transkd.py. A TransKD-Base config's
# child inherits it and sets
#     model = dict(distiller=_base_.transkd_ea)
_ea_student = [32, 64, 160, 256]
_ea_teacher = [64, 128, 320, 512]
_ea_inputs = [3] + _ea_student[:3]  # the image, then the stage maps
_ea_geometry = [(7, 4), (3, 2), (3, 2), (3, 2)]  # MiT's patch embeddings
transkd_ea = dict(
    recorders=dict(
        # what each patch embedding receives
        **{
            f'embed_input{i + 1}': dict(
                type='ModuleInputs', source=f'backbone.layers.{i}.0', index=0)
            for i in range(4)
        }),
    connectors=dict(
        **{
            f'pea{i + 1}': dict(
                _delete_=True,
                type='mmvitplug.EmbeddingAssistantConnector',
                in_channels=_ea_student[i],
                out_channels=_ea_teacher[i],
                input_channels=_ea_inputs[i],
                patch_size=_ea_geometry[i][0],
                stride=_ea_geometry[i][1],
                weights=(0.1 * (i + 1), 0.1 * (i + 5)))
            for i in range(4)
        }),
    loss_inputs=dict(
        **{
            f'loss_pea{i + 1}': dict(
                preds=dict(
                    recorder=[f'embed{i + 1}', f'embed_input{i + 1}']))
            for i in range(4)
        }))
