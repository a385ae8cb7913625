# Copyright (c) mmvitplug contributors.
"""Image classification with knowledge distillation from a frozen teacher."""
import inspect
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
from ..utils import unwrap_state_dict

_SHOW = 10  # keys listed per kind in a checkpoint mismatch error


def _key_list(keys: List[str]) -> str:
    keys = sorted(keys)
    shown = ', '.join(keys[:_SHOW])
    more = len(keys) - _SHOW
    return shown + (f', ... ({more} more)' if more > 0 else '')


def load_teacher_checkpoint(teacher: nn.Module, path: str) -> int:
    """Load every tensor of a teacher from a checkpoint, strictly.

    The file is read with ``torch.load(weights_only=True)``; an mmengine
    ``{'state_dict': ...}`` or official ``{'model': ...}`` wrapper is
    removed. The keys must be exactly those of ``teacher.state_dict()``, with
    matching shapes; only missing BatchNorm ``num_batches_tracked`` counters
    (absent from old checkpoints, unused in eval mode) are tolerated.

    Args:
        teacher (nn.Module): The built teacher.
        path (str): Checkpoint file (``model.teacher_ckpt``).

    Returns:
        int: Number of tensors loaded.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        RuntimeError: The checkpoint does not match the teacher; the message
            lists missing, unexpected and shape-mismatched keys.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"model.teacher_ckpt: teacher checkpoint '{path}' does not exist. "
            'Train (or convert) the teacher first and point teacher_ckpt at '
            'its checkpoint.')
    state = unwrap_state_dict(
        torch.load(path, map_location='cpu', weights_only=True))
    expected = teacher.state_dict()
    missing = [
        k for k in expected
        if k not in state and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs teacher '
        f'{tuple(expected[k].shape)}' for k, v in state.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f'missing keys ({len(missing)}): '
                            f'{_key_list(missing)}')
        if unexpected:
            problems.append(f'unexpected keys ({len(unexpected)}): '
                            f'{_key_list(unexpected)}')
        if mismatched:
            problems.append(f'shape mismatches ({len(mismatched)}): '
                            f'{_key_list(mismatched)}')
        raise RuntimeError(
            f"model.teacher_ckpt '{path}' does not match model.teacher "
            f'({type(teacher).__name__}): ' + '; '.join(problems) +
            '. The checkpoint must hold the state dict of the whole teacher '
            "classifier (keys like 'backbone.*', 'head.*'), e.g. the one "
            'tools/train.py saved when training the teacher config.')
    teacher.load_state_dict(state, strict=False)
    return len(state)


@MODELS.register_module()
class DistillationClassifier(ImageClassifier):
    """Image classifier trained with a frozen teacher, as in `DeiT
    <https://arxiv.org/abs/2012.12877>`_.

    The classifier owns the teacher, the head maps student features to
    logits and the loss holds the maths (mmrazor's split of roles): in
    :meth:`loss` the teacher classifies the same inputs as the student, i.e.
    the images after the data preprocessor's normalisation and Mixup / CutMix
    (as in the official code), and its logits go to
    ``head.loss(feats, data_samples, teacher_logits=...)``
    (:class:`DeiTDistillHead` with :class:`DeiTDistillLoss`). Data
    preprocessing, batch augments, ``predict`` and ``init_weights`` are those
    of mmpretrain's :class:`ImageClassifier`; inference never runs the
    teacher.

    The teacher is frozen: its checkpoint is loaded once, strictly, when the
    model is built, every parameter has ``requires_grad=False``, it is in
    eval mode and runs under ``torch.no_grad()``. It is deliberately *not* a
    registered sub-module: it follows the student through ``.to()`` /
    ``.cuda()`` / ``.half()``, but ``train()``, ``init_weights()`` (whatever
    the model's ``init_cfg``), the optimizer, DDP and ``state_dict()`` never
    see it. Checkpoints therefore hold only the student, so resuming reloads
    the same teacher from ``teacher_ckpt`` and a checkpoint also loads into a
    plain ``ImageClassifier`` with the same backbone and head, for testing
    and deployment without the teacher.

    Args:
        backbone (dict): Student backbone, e.g.
            ``dict(type='mmvitplug.DeiT', distilled=True)``.
        head (dict): Student head whose ``loss`` accepts ``teacher_logits``,
            e.g. ``dict(type='mmvitplug.DeiTDistillHead', ...)``.
        teacher (dict | BaseModel): The teacher classifier, any model of the
            mmpretrain scope (or ``mmvitplug.*``) whose ``mode='tensor'``
            forward returns logits (N, num_classes), e.g. an
            ``ImageClassifier`` with a ``TIMMBackbone`` or ``ResNet``. It must
            expect the student's input normalisation.
        teacher_ckpt (str): Checkpoint file of the whole teacher classifier
            (keys ``backbone.*``, ``head.*``, ...), loaded strictly. Required.
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
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        head_loss_args = inspect.signature(self.head.loss).parameters
        if 'teacher_logits' not in head_loss_args:
            raise TypeError(
                f'{type(self.head).__name__}.loss does not take '
                'teacher_logits; DistillationClassifier needs a distillation '
                "head such as dict(type='mmvitplug.DeiTDistillHead')")
        loss_module = getattr(self.head, 'loss_module', None)
        if getattr(loss_module, 'distill_type', None) == 'none':
            raise ValueError(
                "the head's loss has distill_type='none', which uses no "
                "teacher: set distill_type='hard' or 'soft', or train the "
                'two-token student with mmpretrain ImageClassifier')
        if not isinstance(teacher_ckpt, str):
            raise TypeError('model.teacher_ckpt must be the path of the '
                            f'teacher checkpoint, got {teacher_ckpt!r}')
        if isinstance(teacher, dict):
            teacher = MMPRETRAIN_MODELS.build(teacher)
        if not isinstance(teacher, BaseModel):
            raise TypeError(
                'model.teacher must be a classifier (an mmengine BaseModel '
                "such as dict(type='ImageClassifier', ...)), got "
                f'{type(teacher).__name__}')
        num_tensors = load_teacher_checkpoint(teacher, teacher_ckpt)
        teacher.requires_grad_(False)
        teacher.eval()
        # Plain attribute, not a sub-module: see the class docstring.
        object.__setattr__(self, '_teacher', teacher)
        print_log(
            f'DistillationClassifier: teacher {type(teacher).__name__} '
            f"loaded from '{teacher_ckpt}' ({num_tensors} tensors), frozen",
            logger='current')

    @property
    def teacher(self) -> BaseModel:
        """The frozen teacher classifier."""
        return self._teacher

    def _apply(self, fn, *args, **kwargs):
        """Move / cast the teacher together with the student."""
        super()._apply(fn, *args, **kwargs)
        self._teacher._apply(fn, *args, **kwargs)
        return self

    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher logits (N, C) of ``inputs``, outside the autograd graph."""
        with torch.no_grad():
            logits = self._teacher(inputs, mode='tensor')
        if not (isinstance(logits, torch.Tensor) and logits.dim() == 2):
            got = (tuple(logits.shape) if isinstance(logits, torch.Tensor)
                   else type(logits).__name__)
            raise TypeError(
                f"model.teacher must return logits (N, C) in mode='tensor', "
                f'got {got}; give the teacher a classification head')
        return logits

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Student losses against the labels and the teacher.

        Args:
            inputs (Tensor): Preprocessed (and mixed) images (N, C, H, W).
            data_samples (list[DataSample]): Labels or mixed label scores.

        Returns:
            dict[str, Tensor]: The head's loss terms.
        """
        feats = self.extract_feat(inputs)
        return self.head.loss(
            feats, data_samples, teacher_logits=self.teacher_logits(inputs))
