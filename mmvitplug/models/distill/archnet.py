# Copyright (c) mmvitplug contributors.
"""Arch-Net: label-free progressive distillation of a full-precision
teacher into a student of simple quantised operators.

`Xu et al. 2021, "Arch-Net: Model Distillation for Architecture Agnostic
Model Deployment" <https://arxiv.org/abs/2111.01135>`_; official code:
megvii-research/Arch-Net. The pieces: the student backbone
(:class:`mmvitplug.ArchNetResNet`, :class:`mmvitplug.ArchNetViT`) and head
(:class:`mmvitplug.QuantLinearClsHead`, :class:`mmvitplug.LSQLinearClsHead`),
the training-only adapters (:class:`ArchNetAdapterConnector`,
:class:`ArchNetTokenAdapterConnector`), the period losses
(:class:`mmvitplug.ArchNetLoss`, :class:`mmvitplug.ArchNetViTLoss`) and their
schedule
(:class:`mmvitplug.ArchNetPeriodHook`), wired by the algorithm below.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmvitplug.converters import (archnet_init_from_deit,
                                  archnet_init_from_resnet)
from mmvitplug.registry import MODELS
from ..utils import load_pretrained
from .classifier import DistillationClassifier

#: Student backbone type -> function mapping the teacher's state dict to the
#: student's initialisation (``backbone.*`` keys).
TEACHER_INITIALISERS = dict(
    ArchNetResNet=archnet_init_from_resnet, ArchNetViT=archnet_init_from_deit)


@MODELS.register_module()
class ArchNetAdapterConnector(nn.Module):
    """Arch-Net's training-only adapter of one student feature map, gated
    by the teacher's.

    Given the student's map ``u`` and the teacher's map ``t`` it is compared
    with (both (N, C, H, W))::

        g = sigmoid(W2 relu(W1 mean_hw(t) + b1) + b2)     # (N, C)
        out = conv1x1(conv3x3(conv1x1(g * u))) + u

    full precision, convolutions without bias, norm or activation. The
    gate sees the channel means of the very target ``out`` is compared
    with, as officially (the adapters are dropped at deployment, so the
    deployed student never sees the teacher); the gradient reaches the
    student through ``g * u`` and ``+ u``, none reaches the teacher.

    Used by a distiller source of both recorders, the student's first::

        dict(recorder=['s_out', 't_out'], connector='adapt_out')

    Args:
        channels (int): Channels C of both maps.
        squeeze_factor (int): Hidden width of the gate is ``max(1,
            C // squeeze_factor)``. Defaults to 24 (the official value).
        residual (bool): Add ``u`` to the output. Defaults to True.
    """

    def __init__(self,
                 channels: int,
                 squeeze_factor: int = 24,
                 residual: bool = True):
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be an int >= 1, got {channels!r}')
        if not isinstance(squeeze_factor, int) or squeeze_factor < 1:
            raise ValueError('squeeze_factor must be an int >= 1, got '
                             f'{squeeze_factor!r}')
        hidden = max(1, channels // squeeze_factor)
        self.channels = channels
        self.residual = bool(residual)
        self.gate = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels), nn.Sigmoid())
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """The adapted student map.

        Args:
            maps (Sequence[Tensor]): ``[u, t]``: the student's map and the
                teacher's, (N, C, H, W) each.
        """
        if not isinstance(maps, (list, tuple)) or len(maps) != 2:
            raise ValueError(
                'ArchNetAdapterConnector takes [student map, teacher map] '
                "(a source dict(recorder=['student', 'teacher'], "
                f"connector=...)), got {type(maps).__name__}"
                + (f' of {len(maps)}' if isinstance(maps, (list, tuple))
                   else ''))
        u, t = maps
        for name, x in (('student', u), ('teacher', t)):
            if x.dim() != 4 or x.size(1) != self.channels:
                raise ValueError(
                    f'ArchNetAdapterConnector of {self.channels} channels: '
                    f'the {name} map has shape {tuple(x.shape)}, expected '
                    f'(N, {self.channels}, H, W)')
        g = self.gate(t.detach().mean((2, 3)))[:, :, None, None]
        out = self.conv3(self.conv2(self.conv1(g * u)))
        return out + u if self.residual else out


@MODELS.register_module()
class ArchNetTokenAdapterConnector(nn.Module):
    """The training-only adapter of Arch-Net's Transformer student: tokens
    (B, N, C) through three linear layers (with bias, no activation)
    ``C -> C / r -> C / r -> C``, plus the tokens (the official
    ``feature_adaptation_{1,2,3}`` with ``fa_res=True``)::

        dict(recorder='s_attn_3', connector='adapt_attn_3')

    Args:
        channels (int): Token channels C.
        reduction (int): ``r``; the hidden width is ``max(1, C // r)``.
            Defaults to 16 (the official ``squeeze_factor``).
        residual (bool): Add the tokens to the output. Defaults to True.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 16,
                 residual: bool = True):
        super().__init__()
        for name, value in (('channels', channels), ('reduction',
                                                     reduction)):
            if isinstance(value, bool) or not isinstance(value,
                                                         int) or value < 1:
                raise ValueError(
                    f'{name} must be an int >= 1, got {value!r}')
        hidden = max(1, channels // reduction)
        self.channels = channels
        self.residual = bool(residual)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.size(-1) != self.channels:
            raise ValueError(
                f'ArchNetTokenAdapterConnector of {self.channels} channels: '
                f'got a tensor of shape {tuple(x.shape)}, expected tokens '
                f'(B, N, {self.channels})')
        out = self.fc3(self.fc2(self.fc1(x)))
        return out + x if self.residual else out


@MODELS.register_module()
class ArchNetClassifier(DistillationClassifier):
    """`Arch-Net <https://arxiv.org/abs/2111.01135>`_: a student of simple
    quantised operators distilled from a full-precision teacher, output by
    output, without labels.

    A :class:`DistillationClassifier` (the teacher frozen, both on the same
    (Mixup-ed) images, the distiller's recorders, adapters and loss) that
    also initialises the student from the teacher: after the student's own
    initialisation, the teacher's weights are mapped by the initialiser of
    the student backbone in :data:`TEACHER_INITIALISERS` (for
    :class:`mmvitplug.ArchNetResNet`:
    :func:`mmvitplug.converters.archnet_init_from_resnet`, which copies the
    blocks' convolutions and BNs and puts each 1x1 downsampling convolution
    at the centre of its 3x3 counterpart; for :class:`mmvitplug.ArchNetViT`:
    :func:`mmvitplug.converters.archnet_init_from_deit`, which copies a
    DeiT classifier's tensors of the same names, LayerNorm affine parameters
    into the BatchNorms, the classifier included) and loaded into its
    backbone (and head); what the teacher has no counterpart for (the
    ResNet student's stem, merge convolutions and classifier, the
    quantisers' steps, the BatchNorm statistics) keeps its own
    initialisation and is logged as missing. Only the first run
    initialises so: resuming loads the checkpoint on top, as officially
    each period loads the last.

    The recipe (recorders, :class:`ArchNetAdapterConnector` s, the
    :class:`mmvitplug.ArchNetLoss`, the :class:`mmvitplug.ArchNetPeriodHook`
    and a cosine restart per period; for a ViT student
    :class:`ArchNetTokenAdapterConnector` s and the
    :class:`mmvitplug.ArchNetViTLoss`) is in ``configs/archnet``. A trained
    student loads into a plain ``ImageClassifier`` with the same backbone,
    neck and head (the adapters are training-only).

    Args:
        *args: :class:`DistillationClassifier` arguments; a teacher is
            required.
        init_from_teacher (bool): Initialise the student from the teacher.
            Defaults to True.
        **kwargs: :class:`DistillationClassifier` keyword arguments.
    """

    def __init__(self, *args, init_from_teacher: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if self.teacher is None:
            raise ValueError(
                'ArchNetClassifier distils a teacher: give model.teacher and '
                'model.teacher_ckpt')
        self.init_from_teacher = bool(init_from_teacher)

    def init_weights(self):
        """The student's initialisation, then the teacher's weights."""
        super().init_weights()
        if not self.init_from_teacher:
            return
        kind = type(self.backbone).__name__
        if kind not in TEACHER_INITIALISERS:
            raise ValueError(
                f'ArchNetClassifier: no teacher initialiser for a {kind} '
                f'student (there are for {sorted(TEACHER_INITIALISERS)}); '
                'set init_from_teacher=False')
        state_dict = TEACHER_INITIALISERS[kind](self.teacher.state_dict())
        parts = sorted({k.split('.', 1)[0] for k in state_dict})
        if not set(parts) <= {'backbone', 'head'}:
            raise RuntimeError(
                f'ArchNetClassifier: the initialiser of {kind} gave keys '
                f'under {parts}; only backbone.* and head.* are loaded')
        loaded, missing = 0, 0
        for part in parts:
            report = load_pretrained(
                getattr(self, part), state_dict, prefix=part + '.')
            if report.unexpected_keys or report.mismatched:
                raise RuntimeError(
                    f'ArchNetClassifier: the teacher does not fit the '
                    f'student\'s {part}: unexpected '
                    f'{report.unexpected_keys[:5]}, shape mismatches '
                    f'{report.mismatched[:5]}; give the student the '
                    'teacher\'s depths, widths and classes')
            loaded += report.num_loaded
            missing += len(report.missing_keys)
        print_log(
            f'ArchNetClassifier: student initialised from the teacher '
            f'({loaded} tensors of its {" and ".join(parts)}; the '
            f'{missing} others keep their own initialisation)',
            logger='current')
