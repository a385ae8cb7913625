# TransKD-Base (https://arxiv.org/abs/2202.13393) with one of our ViTs as
# the student: the CMT of segformer-cmt-8l32d-p4_1xb8_shapes-ade.py (MiT-B0
# widths, a SegFormer head) distilled from the bundled MiT teacher
# (_teachers/segformer-mit-4l64d-p4_shapes-ade.py) as the bundled MiT
# student is (_base_/distillers/transkd.py): CSF + HCL on its four stage
# maps; PEA on the tokens of its stage patch embeddings
# (`backbone.stages.{i}.0`, 2x2 convolutions + LayerNorm) against the
# teacher's.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    './segformer-cmt-8l32d-p4_1xb8_shapes-ade.py',
    '../../_base_/distillers/transkd.py',
    '../../_teachers/segformer-mit-4l64d-p4_shapes-ade.py',
]

_distiller = _base_.transkd_distiller
model = dict(
    type='mmvitplug.DistillationSegmentor',
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _distiller,
        # CMT's stage patch embeddings return (tokens, position bias)
        recorders=dict(
            _distiller.recorders,
            **{
                f'embed{i + 1}': dict(source=f'backbone.stages.{i}.0',
                                      index=0)
                for i in range(4)
            })))
