# Copyright (c) mmvitplug contributors.
"""Semantic segmentation distilled from a frozen teacher, or into itself."""
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmseg.models.segmentors import EncoderDecoder

from mmvitplug.registry import MODELS
from .teacher import DistillMixin


@MODELS.register_module()
class DistillationSegmentor(DistillMixin, EncoderDecoder):
    """mmseg's ``EncoderDecoder`` distilled from a frozen segmentation
    teacher (e.g. `TransKD <https://arxiv.org/abs/2202.13393>`_), or into
    itself.

    The teacher and the distiller are those of :class:`DistillMixin` (the
    teacher frozen, in eval mode, outside the state dict and the optimizer;
    recorders address ``'backbone...'``, ``'decode_head...'`` and
    ``'teacher...'``). In :meth:`loss` the student computes its own
    segmentation losses (``decode_head.loss_decode``, auxiliary heads) as a
    plain ``EncoderDecoder``, the teacher runs on the same preprocessed
    images, and the distiller adds its terms; its ``'targets'`` are the
    ground-truth maps (N, H, W). mmseg calls a decode head's ``forward``
    directly, so the logits are recorded at ``'decode_head.conv_seg'``
    (``'teacher.decode_head.conv_seg'``), not at the head itself.
    Inference is the student's alone, and its checkpoints load into a plain
    ``EncoderDecoder``.

    Args:
        backbone (dict): Student backbone.
        decode_head (dict): Student decode head, with its own loss.
        distiller (dict): Config of the :class:`ConfigurableDistiller`;
            ``type`` defaults to ``'mmvitplug.ConfigurableDistiller'``.
        teacher (dict | BaseModel, optional): The teacher segmentor (e.g.
            an ``EncoderDecoder``), expecting the student's normalisation.
            Defaults to None: self-distillation.
        teacher_ckpt (str, optional): Checkpoint of the whole teacher,
            loaded completely; required with a teacher. Defaults to None.
        neck, auxiliary_head, train_cfg, test_cfg, data_preprocessor,
        pretrained, init_cfg: As in mmseg's ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 distiller: dict,
                 teacher: Union[dict, BaseModel, None] = None,
                 teacher_ckpt: Optional[str] = None,
                 neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.init_distillation(teacher, teacher_ckpt, distiller)
        for name, recorder in self.distiller.recorders.items():
            head = recorder.source.rpartition('teacher.')[2]
            if head in ('decode_head', 'auxiliary_head'):
                raise ValueError(
                    f'distiller.recorders.{name}: mmseg calls '
                    f"{head}.forward() directly, so {recorder.source!r} "
                    'never runs as a module; record its classifier '
                    f"'{recorder.source}.conv_seg' (the logits) or one of "
                    'its layers')

    def loss(self, inputs: torch.Tensor, data_samples: List) -> dict:
        """The student's segmentation losses plus the distiller's terms.

        Args:
            inputs (Tensor): Preprocessed images (N, C, H, W).
            data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Every loss term.
        """
        targets = torch.stack(
            [s.gt_sem_seg.data.squeeze(0) for s in data_samples])
        with self.distiller.recording():
            losses = super().loss(inputs, data_samples)
            self.run_teacher(inputs)
            distill = self.distiller.compute_losses(targets)
        clash = sorted(set(losses) & set(distill))
        if clash:
            raise ValueError(
                f'the distiller gives the terms {clash}, which the student '
                'segmentor gives too; rename the distiller losses')
        losses.update(distill)
        return losses
