# Copyright (c) mmvitplug contributors.
"""Image classification distilled from a frozen teacher, or into
itself."""
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import get_targets
from .teacher import DistillMixin


@MODELS.register_module()
class DistillationClassifier(DistillMixin, ImageClassifier):
    """Image classifier distilled from a frozen teacher, e.g. as in `DeiT
    <https://arxiv.org/abs/2012.12877>`_, or into itself.

    The roles of mmrazor's ``SingleTeacherDistill`` and ``SelfDistill``
    (:class:`DistillMixin`): this algorithm owns the student (its own
    backbone, neck and head, so checkpoints have the keys of a plain
    ``ImageClassifier``) and the frozen teacher if any, and in :meth:`loss`
    runs both on the same inputs, the images after the data preprocessor's
    normalisation and Mixup / CutMix (the one place the batch is mixed, as
    in the official DeiT code). The :class:`ConfigurableDistiller` records
    what the losses need from either model by module path, adapts it with
    connectors, and computes every loss term, the label terms included: the
    student head's own loss is not used. Data preprocessing, ``predict``
    and ``init_weights`` are those of mmpretrain's :class:`ImageClassifier`;
    inference never runs the teacher. Checkpoints hold the student, plus
    the distiller's connectors and loss buffers if it has any (DeiT's has
    none), so resuming reloads the same teacher from ``teacher_ckpt`` and a
    DeiT checkpoint loads into a plain ``ImageClassifier`` with the same
    backbone and head, for testing and deployment without the teacher.

    Args:
        backbone (dict): Student backbone, e.g.
            ``dict(type='mmvitplug.DeiT', distilled=True)``.
        head (dict): Student head, e.g.
            ``dict(type='mmvitplug.DeiTDistillHead', ...)``, without a
            ``loss`` (the losses are the distiller's).
        distiller (dict): Config of the :class:`ConfigurableDistiller`
            (``recorders``, ``losses``, ``loss_inputs``, ``connectors``);
            ``type`` defaults to ``'mmvitplug.ConfigurableDistiller'``.
        teacher (dict | BaseModel, optional): The teacher, any model of the
            mmpretrain scope (or ``mmvitplug.*``) that runs in
            ``mode='tensor'``, e.g. an ``ImageClassifier`` with a
            ``TIMMBackbone`` or ``ResNet``. It must expect the student's
            input normalisation. Defaults to None: self-distillation.
        teacher_ckpt (str, optional): Checkpoint path or URL of the whole
            teacher classifier (keys ``backbone.*``, ``head.*``, ...; or an
            official layout of an mmvitplug backbone), loaded completely;
            required with a teacher. Defaults to None.
        teacher_input_size (int | tuple[int, int], optional): Size the
            teacher's inputs are resized to (bilinearly), e.g. the low
            resolution a CNN teacher was trained at (`locality guidance
            <https://arxiv.org/abs/2207.10026>`_). Defaults to None: the
            student's inputs.
        neck (dict, optional): Student neck. Defaults to None.
        train_cfg (dict, optional): Batch augments, as in
            :class:`ImageClassifier`. Defaults to None.
        data_preprocessor (dict, optional): As in :class:`ImageClassifier`.
            Defaults to None.
        init_cfg (dict, optional): Student initialisation. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 distiller: dict,
                 teacher: Union[dict, BaseModel, None] = None,
                 teacher_ckpt: Optional[str] = None,
                 teacher_input_size: Optional[int] = None,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if isinstance(head, dict) and 'loss' in head:
            raise ValueError(
                'model.head.loss is not used by DistillationClassifier: '
                'every loss term, the label terms included, is in '
                'model.distiller.losses; remove model.head.loss (e.g. '
                "put dict(type='mmvitplug.DeiTDistillLoss', ...) in "
                'model.distiller.losses)')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.init_distillation(teacher, teacher_ckpt, distiller,
                               teacher_input_size)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample]) -> dict:
        """Run the student and the teacher (if any) on the same inputs, or
        on two views, and compute the distiller's losses.

        Args:
            inputs (Tensor | list[Tensor]): Preprocessed (and mixed) images
                (N, C, H, W) that both models see, or two views
                ``[student view, teacher view]`` mixed together by
                :class:`mmvitplug.MultiViewClsDataPreprocessor` (e.g. the
                teacher seeing another crop: function matching's
                "inconsistent" ablation).
            data_samples (list[DataSample]): Labels or mixed label scores.

        Returns:
            dict[str, Tensor]: The distiller's loss terms.
        """
        student_inputs = teacher_inputs = inputs
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or self.teacher is None:
                raise ValueError(
                    f'got {len(inputs)} views of each image; '
                    'DistillationClassifier takes one batch, or two views '
                    '(the student\'s and the teacher\'s) when it has a '
                    'teacher: make the pipeline\'s MultiView give 2 views, '
                    'or remove it')
            student_inputs, teacher_inputs = inputs
        with self.distiller.recording():
            self(student_inputs, mode='tensor')
            self.run_teacher(teacher_inputs)
            return self.distiller.compute_losses(get_targets(data_samples))
