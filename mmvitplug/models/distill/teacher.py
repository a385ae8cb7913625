# Copyright (c) mmvitplug contributors.
"""What every distillation algorithm shares: it owns a frozen teacher (or
none, for self-distillation), loaded completely from its checkpoint, and a
:class:`ConfigurableDistiller` whose recorders reach the algorithm's modules
(``'backbone...'``) and the teacher's (``'teacher...'``)."""
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from ..utils import LoadReport, load_pretrained
from .distiller import ConfigurableDistiller, build_distiller

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


class FrozenHolder:
    """Holds the frozen teacher outside the module tree.

    Deep copies (mmengine's ``ExponentialMovingAverage`` copies the model)
    share the holder, so the teacher is never cloned.
    """

    def __init__(self, module: nn.Module):
        self.module = module

    def __deepcopy__(self, memo):
        return self


class DistillMixin:
    """The teacher and the distiller of a distillation algorithm.

    The roles of mmrazor's ``SingleTeacherDistill`` / ``SelfDistill``, mixed
    into a task model (mmpretrain's ``ImageClassifier``, mmseg's
    ``EncoderDecoder``): the algorithm keeps the task model's own modules,
    so its checkpoints have the keys of the plain model, and owns

    * the **teacher**, built from its config and loaded completely from
      ``teacher_ckpt`` (:func:`load_teacher`) when the algorithm is built;
      every parameter has ``requires_grad=False``, it stays in eval mode
      and runs under ``torch.no_grad()`` (:meth:`run_teacher`). It is
      deliberately *not* a registered sub-module: it follows the student
      through ``.to()`` / ``.cuda()`` / ``.half()``, its modules are
      reachable for recording as ``teacher.*``, but ``train()``,
      ``init_weights()``, the optimizer, DDP, ``state_dict()`` and deep
      copies (EMA) never see it; resuming reloads it from ``teacher_ckpt``.
      Without a teacher (``teacher=None``) the algorithm distils the
      network into itself (self-distillation): the recorders address only
      its own modules.
    * the **distiller** (:class:`ConfigurableDistiller`), a sub-module:
      its connectors and loss states train and are saved with the student.

    A class using it calls :meth:`init_distillation` at the end of its
    ``__init__`` and, in its ``loss``, runs the student and
    :meth:`run_teacher` inside ``self.distiller.recording()``.
    """

    def init_distillation(self,
                          teacher: Union[dict, BaseModel, None],
                          teacher_ckpt: Optional[str],
                          distiller: Union[dict, ConfigurableDistiller],
                          teacher_input_size: Optional[int] = None):
        """Build and load the teacher, build the distiller and address its
        recorders.

        Args:
            teacher (dict | BaseModel | None): The teacher, any model that
                runs in ``mode='tensor'`` (built in the default scope, or
                ``mmvitplug.*``), or None for self-distillation.
            teacher_ckpt (str | None): Path or URL of the whole teacher's
                checkpoint; None exactly when ``teacher`` is None.
            distiller (dict | ConfigurableDistiller): The distiller;
                ``type`` defaults to ``'mmvitplug.ConfigurableDistiller'``.
            teacher_input_size (int | tuple[int, int], optional): Size the
                teacher's inputs are resized to (bilinearly), e.g. a CNN
                teacher trained at low resolution (locality guidance).
                Defaults to None: the student's inputs as they are.
        """
        if teacher_input_size is not None:
            size = (teacher_input_size, teacher_input_size) if isinstance(
                teacher_input_size, int) else tuple(teacher_input_size)
            if teacher is None or len(size) != 2 or not all(
                    isinstance(s, int) and s > 0 for s in size):
                raise ValueError(
                    'model.teacher_input_size must be a positive int or '
                    '(H, W), with a teacher; got '
                    f'{teacher_input_size!r}' +
                    ('' if teacher is not None else ' without a teacher'))
            teacher_input_size = size
        self.teacher_input_size = teacher_input_size
        if teacher is None:
            if teacher_ckpt is not None:
                raise ValueError(
                    f"model.teacher_ckpt='{teacher_ckpt}' is given without "
                    'model.teacher: give the teacher config too, or remove '
                    'teacher_ckpt for self-distillation')
            self._teacher = None
        else:
            if isinstance(teacher, dict):  # in the default scope
                teacher = MMPRETRAIN_MODELS.build(teacher)
            if not isinstance(teacher, BaseModel):
                raise TypeError(
                    'model.teacher must be a model (an mmengine BaseModel '
                    "such as dict(type='ImageClassifier', ...)), got "
                    f'{type(teacher).__name__}')
            if teacher_ckpt is None:
                raise ValueError(
                    'model.teacher needs model.teacher_ckpt: a teacher is '
                    'always loaded from its checkpoint (a random teacher '
                    'would teach nothing)')
            report = load_teacher(teacher, teacher_ckpt)
            teacher.requires_grad_(False)
            teacher.eval()
            self._teacher = FrozenHolder(teacher)  # not a sub-module
        self.distiller = build_distiller(distiller)
        roots: Dict[str, nn.Module] = {'': self}
        if teacher is not None:
            roots['teacher'] = teacher
        self.distiller.prepare(roots)
        if teacher is not None:
            print_log(
                f'{type(self).__name__}: teacher {type(teacher).__name__} '
                f"loaded from '{teacher_ckpt}' ({report.num_loaded} "
                'tensors), frozen',
                logger='current')

    @property
    def teacher(self) -> Optional[BaseModel]:
        """The frozen teacher (None for self-distillation)."""
        holder = self.__dict__.get('_teacher')
        return None if holder is None else holder.module

    def _apply(self, fn, *args, **kwargs):
        """Move / cast the teacher together with the student."""
        super()._apply(fn, *args, **kwargs)
        if self.teacher is not None:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def run_teacher(self, inputs: torch.Tensor):
        """The teacher's tensor-mode forward, without gradients (its
        recorded modules are recorded), on the inputs resized to
        ``teacher_input_size`` if set. Nothing when there is no teacher.
        """
        if self.teacher is None:
            return None
        if (self.teacher_input_size is not None
                and tuple(inputs.shape[2:]) != self.teacher_input_size):
            inputs = F.interpolate(
                inputs, size=self.teacher_input_size, mode='bilinear',
                align_corners=False)
        with torch.no_grad():
            return self.teacher(inputs, mode='tensor')
