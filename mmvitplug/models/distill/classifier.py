# Copyright (c) mmvitplug contributors.
"""Image classification distilled from a frozen teacher."""
import os.path as osp
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import get_targets
from ..utils import LoadReport, load_pretrained
from .distiller import ConfigurableDistiller

_SHOW = 10  # keys listed per kind in a checkpoint mismatch error


def _key_list(keys: List[str]) -> str:
    keys = sorted(keys)
    shown = ', '.join(keys[:_SHOW])
    more = len(keys) - _SHOW
    return shown + (f', ... ({more} more)' if more > 0 else '')


def load_teacher(teacher: nn.Module, checkpoint: str) -> LoadReport:
    """Load every tensor of a teacher, or fail naming what did not load.

    The checkpoint goes through :func:`mmvitplug.models.utils.load_pretrained`
    (a path or an URL, read weights-only; an mmengine ``state_dict`` or
    official ``model`` wrapper is removed; an official layout is converted
    by the converter registered for the teacher's backbone, position
    embeddings resized). It
    must then fill the whole teacher: only missing BatchNorm
    ``num_batches_tracked`` counters (absent from old checkpoints, unused in
    eval mode) are tolerated.

    Args:
        teacher (nn.Module): The built teacher classifier.
        checkpoint (str): Path or URL (``model.teacher_ckpt``).

    Returns:
        LoadReport: What was loaded.

    Raises:
        FileNotFoundError: ``checkpoint`` is neither an URL nor a file.
        RuntimeError: The checkpoint does not fill the teacher; the message
            lists missing, unexpected and shape-mismatched keys.
    """
    if not isinstance(checkpoint, str):
        raise TypeError('model.teacher_ckpt must be the path (or URL) of the '
                        f'teacher checkpoint, got {checkpoint!r}')
    is_url = checkpoint.startswith(('http://', 'https://'))
    if not is_url and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f"model.teacher_ckpt: teacher checkpoint '{checkpoint}' does not "
            'exist. Train (or convert) the teacher first and point '
            'teacher_ckpt at its checkpoint.')
    hint = ('. The checkpoint must hold the whole teacher classifier (keys '
            "like 'backbone.*', 'head.*'), e.g. the one tools/train.py saved "
            'when training the teacher config, or an official checkpoint of '
            'an mmvitplug backbone')
    try:
        # the loader finds the converter registered for the teacher backbone
        report = load_pretrained(teacher, checkpoint)
    except ValueError as err:  # nothing matched at all
        raise RuntimeError(f"model.teacher_ckpt '{checkpoint}' does not "
                           f'match model.teacher: {err}{hint}') from None
    missing = [
        k for k in report.missing_keys
        if not k.endswith('num_batches_tracked')
    ]
    problems = []
    if missing:
        problems.append(f'missing keys ({len(missing)}): '
                        f'{_key_list(missing)}')
    if report.unexpected_keys:
        problems.append(f'unexpected keys ({len(report.unexpected_keys)}): '
                        f'{_key_list(report.unexpected_keys)}')
    if report.mismatched:
        shapes = [f'{k}: checkpoint {src} vs teacher {dst}'
                  for k, src, dst in report.mismatched]
        problems.append(f'shape mismatches ({len(shapes)}): '
                        f'{_key_list(shapes)}')
    if problems:
        raise RuntimeError(
            f"model.teacher_ckpt '{checkpoint}' does not match model.teacher "
            f'({type(teacher).__name__}): ' + '; '.join(problems) + hint)
    return report


class _Frozen:
    """Holds the frozen teacher outside the module tree.

    Deep copies (mmengine's ``ExponentialMovingAverage`` copies the model)
    share the holder, so the teacher is never cloned.
    """

    def __init__(self, module: nn.Module):
        self.module = module

    def __deepcopy__(self, memo):
        return self


@MODELS.register_module()
class DistillationClassifier(ImageClassifier):
    """Image classifier distilled from a frozen teacher, e.g. as in `DeiT
    <https://arxiv.org/abs/2012.12877>`_.

    The roles of mmrazor's ``SingleTeacherDistill``, small: this algorithm
    owns the student (its own backbone, neck and head, so checkpoints have
    the keys of a plain ``ImageClassifier``) and the frozen teacher, and in
    :meth:`loss` runs both on the same inputs, the images after the data
    preprocessor's normalisation and Mixup / CutMix (as the official DeiT
    code). The :class:`ConfigurableDistiller` records what the losses need
    from either model by module path, adapts it with connectors, and
    computes every loss term, the label terms included: the student head's
    own loss is not used. Data preprocessing, ``predict`` and
    ``init_weights`` are those of mmpretrain's :class:`ImageClassifier`;
    inference never runs the teacher.

    The teacher is loaded once, completely (:func:`load_teacher`), when the
    model is built; every parameter has ``requires_grad=False``, it stays in
    eval mode and runs under ``torch.no_grad()``. It is deliberately *not* a
    registered sub-module: it follows the student through ``.to()`` /
    ``.cuda()`` / ``.half()``, its modules are reachable for recording as
    ``teacher.*``, but ``train()``, ``init_weights()`` (whatever the
    model's ``init_cfg``), the optimizer, DDP, ``state_dict()`` and deep
    copies (EMA) never see it. Checkpoints hold the student, plus the
    distiller's connectors and loss buffers if it has any (DeiT's has none),
    so resuming reloads the same teacher from ``teacher_ckpt`` and a DeiT
    checkpoint loads into a plain ``ImageClassifier`` with the same backbone
    and head, for testing and deployment without the teacher.

    Args:
        backbone (dict): Student backbone, e.g.
            ``dict(type='mmvitplug.DeiT', distilled=True)``.
        head (dict): Student head, e.g.
            ``dict(type='mmvitplug.DeiTDistillHead', ...)``, without a
            ``loss`` (the losses are the distiller's).
        teacher (dict | BaseModel): The teacher, any model of the mmpretrain
            scope (or ``mmvitplug.*``) that runs in ``mode='tensor'``, e.g.
            an ``ImageClassifier`` with a ``TIMMBackbone`` or ``ResNet``. It
            must expect the student's input normalisation.
        teacher_ckpt (str): Checkpoint path or URL of the whole teacher
            classifier (keys ``backbone.*``, ``head.*``, ...; or an
            official layout of an mmvitplug backbone), loaded completely.
        distiller (dict): Config of the :class:`ConfigurableDistiller`
            (``recorders``, ``losses``, ``loss_inputs``, ``connectors``);
            ``type`` defaults to ``'mmvitplug.ConfigurableDistiller'``.
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
                 teacher: Union[dict, BaseModel],
                 teacher_ckpt: str,
                 distiller: dict,
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
        if isinstance(teacher, dict):
            teacher = MMPRETRAIN_MODELS.build(teacher)
        if not isinstance(teacher, BaseModel):
            raise TypeError(
                'model.teacher must be a model (an mmengine BaseModel such '
                "as dict(type='ImageClassifier', ...)), got "
                f'{type(teacher).__name__}')
        report = load_teacher(teacher, teacher_ckpt)
        teacher.requires_grad_(False)
        teacher.eval()
        self._teacher = _Frozen(teacher)  # not a sub-module: see above
        if isinstance(distiller, dict):
            distiller = MODELS.build(
                dict(type='mmvitplug.ConfigurableDistiller', **distiller)
                if 'type' not in distiller else distiller)
        if not isinstance(distiller, ConfigurableDistiller):
            raise TypeError('model.distiller must be a ConfigurableDistiller '
                            f'config, got {type(distiller).__name__}')
        self.distiller = distiller
        self.distiller.prepare({'': self, 'teacher': teacher})
        print_log(
            f'DistillationClassifier: teacher {type(teacher).__name__} '
            f"loaded from '{teacher_ckpt}' ({report.num_loaded} tensors), "
            'frozen',
            logger='current')

    @property
    def teacher(self) -> BaseModel:
        """The frozen teacher."""
        return self._teacher.module

    def _apply(self, fn, *args, **kwargs):
        """Move / cast the teacher together with the student."""
        super()._apply(fn, *args, **kwargs)
        if '_teacher' in self.__dict__:  # not yet during __init__
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Run the student and the teacher on the same inputs and compute
        the distiller's losses.

        Args:
            inputs (Tensor): Preprocessed (and mixed) images (N, C, H, W).
            data_samples (list[DataSample]): Labels or mixed label scores.

        Returns:
            dict[str, Tensor]: The distiller's loss terms.
        """
        with self.distiller.recording():
            self(inputs, mode='tensor')
            with torch.no_grad():
                self.teacher(inputs, mode='tensor')
            return self.distiller.compute_losses(get_targets(data_samples))
