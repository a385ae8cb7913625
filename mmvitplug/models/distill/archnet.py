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
(:class:`mmvitplug.ArchNetPeriodHook`), wired by the distillers
(:class:`ArchNetResNetDistiller`, :class:`ArchNetViTDistiller`) and the
algorithm below.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmvitplug.converters import (archnet_init_from_deit,
                                  archnet_init_from_resnet)
from mmvitplug.registry import MODELS
from ..utils import load_pretrained
from .classifier import DistillationClassifier
from .distiller import ConfigurableDistiller


def _init_resnet(state_dict: dict, student: nn.Module) -> dict:
    return archnet_init_from_resnet(
        state_dict, max_conv_in=student.max_conv_in)


def _init_vit(state_dict: dict, student: nn.Module) -> dict:
    return archnet_init_from_deit(state_dict)


#: Student backbone type -> function mapping the teacher's state dict (and
#: the student backbone) to the student's initialisation (``backbone.*`` and
#: ``head.*`` keys).
TEACHER_INITIALISERS = dict(ArchNetResNet=_init_resnet, ArchNetViT=_init_vit)


@MODELS.register_module()
class ArchNetAdapterConnector(nn.Module):
    """Arch-Net's training-only adapter of one student feature map, gated
    by the teacher's.

    Given the student's map ``u`` and the teacher's map ``t`` it is compared
    with (both (N, C, H, W))::

        g = sigmoid(W2 relu(W1 mean_hw(t) + b1) + b2)     # (N, C)
        out = conv1x1(conv3x3(conv1x1(g * u))) + u

    full precision, convolutions without bias, norm or activation, through
    ``mid_channels`` (C -> M -> M -> C; the gate's hidden width ``M //
    squeeze_factor``: the official bottleneck adapters on the expanded maps
    squeeze to the stage width, the others keep C). The
    gate sees the channel means of the very target ``out`` is compared
    with, as officially (the adapters are dropped at deployment, so the
    deployed student never sees the teacher); the gradient reaches the
    student through ``g * u`` and ``+ u``, none reaches the teacher.

    Used by a distiller source of both recorders, the student's first::

        dict(recorder=['s_out', 't_out'], connector='adapt_out')

    Args:
        channels (int): Channels C of both maps.
        mid_channels (int, optional): Width M inside the adapter. Defaults
            to None: C.
        squeeze_factor (int): Hidden width of the gate is ``max(1,
            M // squeeze_factor)``. Defaults to 24 (the official value).
        residual (bool): Add ``u`` to the output. Defaults to True.
    """

    def __init__(self,
                 channels: int,
                 mid_channels: Optional[int] = None,
                 squeeze_factor: int = 24,
                 residual: bool = True):
        super().__init__()
        mid_channels = channels if mid_channels is None else mid_channels
        for name, value in (('channels', channels),
                            ('mid_channels', mid_channels),
                            ('squeeze_factor', squeeze_factor)):
            if isinstance(value, bool) or not isinstance(value,
                                                         int) or value < 1:
                raise ValueError(
                    f'{name} must be an int >= 1, got {value!r}')
        hidden = max(1, mid_channels // squeeze_factor)
        self.channels = channels
        self.residual = bool(residual)
        self.gate = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels), nn.Sigmoid())
        self.conv1 = nn.Conv2d(channels, mid_channels, 1, bias=False)
        self.conv2 = nn.Conv2d(
            mid_channels, mid_channels, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(mid_channels, channels, 1, bias=False)

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


def _check_stages(depths, widths) -> None:
    for name, values in (('depths', depths), ('widths', widths)):
        if not isinstance(values, (list, tuple)) or not values or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1
                for v in values):
            raise ValueError(f'{name} must be a non-empty list of ints >= 1, '
                             f'got {values!r}')
    if len(depths) != len(widths):
        raise ValueError(f'depths {list(depths)} and widths {list(widths)} '
                         'must give one value per stage')


@MODELS.register_module()
class ArchNetResNetDistiller(ConfigurableDistiller):
    """Arch-Net's distiller of a ResNet student
    (:class:`mmvitplug.ArchNetResNet`) and its mmpretrain ``ResNet``
    teacher, for any depths: the recorders, adapters and
    :class:`mmvitplug.ArchNetLoss` of the official
    ``train_archnet_resnet{18,34,50}.py``.

    The outputs of each network, in order: the stem (the student's
    ``backbone.stem``, the teacher's ``maxpool``), then per block its units
    and its output, then the logits. A basic block gives three: its first
    unit (teacher ``bn1``), its second (``bn2``) and its output; a
    bottleneck four: its three units (``bn1``, ``bn2``, ``bn3``) and its
    output. ResNet-18: 1 + 3 x 8 + 1 = 26 outputs, ResNet-34: 50, ResNet-50:
    66, and as many periods.

    The teacher's targets are recorded as in the official teacher: its
    norms' outputs are modified in place by mmpretrain's blocks, so ``bn1``
    (and a bottleneck's ``bn2``) records the ReLU-ed map and the last norm
    (``bn2`` of a basic block, ``bn3`` of a bottleneck) records the block's
    output after ``out += identity`` and the ReLU, as the official
    teacher's list does (its last two targets of a block are the same
    tensor).

    Each student block output goes through a training-only
    :class:`ArchNetAdapterConnector` (gated by the teacher's map) before its
    MSE; the stem and the logits are compared directly. A bottleneck's
    adapters on its expanded maps (``expansion`` x the stage width)
    squeeze to the stage width inside, as officially.

    Args:
        depths (Sequence[int]): Blocks per stage (ResNet-18 ``[2, 2, 2,
            2]``, ResNet-34 and -50 ``[3, 4, 6, 3]``).
        widths (Sequence[int]): Width of each stage (its first units;
            ResNet ``[64, 128, 256, 512]``).
        block (str): 'basic' or 'bottleneck' (expansion 4). Defaults to
            'basic'.
        squeeze_factor (int): The adapters' gate reduction. Defaults to 24
            (the official value).
        decay (float): :class:`mmvitplug.ArchNetLoss` ``decay``. Defaults to
            0.8.
        loss_weight (float): :class:`mmvitplug.ArchNetLoss`
            ``loss_weight``. Defaults to 1.0.
    """
    #: Per block type: (student unit, teacher unit, width multiplier) of
    #: each distilled output of a block.
    block_units: Dict[str, tuple] = dict(
        basic=(('.conv1', '.bn1', 1), ('.conv2', '.bn2', 1), ('', '', 1)),
        bottleneck=(('.conv1', '.bn1', 1), ('.conv2', '.bn2', 1),
                    ('.conv3', '.bn3', 4), ('', '', 4)))

    def __init__(self,
                 depths: Sequence[int],
                 widths: Sequence[int],
                 block: str = 'basic',
                 squeeze_factor: int = 24,
                 decay: float = 0.8,
                 loss_weight: float = 1.0):
        super().__init__(**self.settings(depths, widths, block,
                                         squeeze_factor, decay, loss_weight))

    @classmethod
    def settings(cls,
                 depths: Sequence[int],
                 widths: Sequence[int],
                 block: str = 'basic',
                 squeeze_factor: int = 24,
                 decay: float = 0.8,
                 loss_weight: float = 1.0) -> dict:
        """The :class:`ConfigurableDistiller` arguments (recorders,
        connectors, losses, loss inputs) this distiller is built of."""
        _check_stages(depths, widths)
        if block not in cls.block_units:
            raise ValueError(f'block must be one of '
                             f'{sorted(cls.block_units)}, got {block!r}')
        student, teacher, channels = ['backbone.stem'], [
            'teacher.backbone.maxpool'
        ], []
        for stage, (depth, width) in enumerate(zip(depths, widths)):
            for b in range(depth):
                for s_unit, t_unit, mult in cls.block_units[block]:
                    student.append(f'backbone.stages.{stage}.{b}{s_unit}')
                    teacher.append(
                        f'teacher.backbone.layer{stage + 1}.{b}{t_unit}')
                    channels.append((width * mult, width))
        student.append('head')
        teacher.append('teacher')
        adapted = range(1, len(student) - 1)
        return dict(
            recorders=dict(
                **{f's{k}': dict(source=src)
                   for k, src in enumerate(student)},
                **{f't{k}': dict(source=src)
                   for k, src in enumerate(teacher)}),
            connectors={
                f'a{k}': dict(
                    type='mmvitplug.ArchNetAdapterConnector',
                    channels=channels[k - 1][0],
                    mid_channels=channels[k - 1][1],
                    squeeze_factor=squeeze_factor)
                for k in adapted
            },
            losses=dict(
                loss_archnet=dict(
                    type='mmvitplug.ArchNetLoss',
                    num_outputs=len(student),
                    decay=decay,
                    loss_weight=loss_weight)),
            loss_inputs=dict(
                loss_archnet=dict(
                    student=['s0'] + [
                        dict(recorder=[f's{k}', f't{k}'], connector=f'a{k}')
                        for k in adapted
                    ] + [f's{len(student) - 1}'],
                    teacher=[f't{k}' for k in range(len(teacher))])))


@MODELS.register_module()
class ArchNetViTDistiller(ConfigurableDistiller):
    """Arch-Net's distiller of a ViT student (:class:`mmvitplug.ArchNetViT`)
    and its DeiT teacher (``mmvitplug.DeiT``), for any depth: the
    recorders, adapters and :class:`mmvitplug.ArchNetViTLoss` of the
    official Transformer recipe (``train_archnet_transformer.py``) carried
    over to a ViT.

    Recorded on both networks: the stem's tokens (the first block's
    input), then per block the residual stream after its attention (its
    ``norm2``'s input) and after its MLP (its output), ``2 L + 1``
    features; each block's attention logits (the student's
    ``attn.logits``, the teacher's q k^T scaled, recorded by an
    ``AttentionRelations`` recorder); the logits. The student's block
    features go through a training-only
    :class:`ArchNetTokenAdapterConnector` before their MSE.

    Args:
        num_layers (int): Blocks ``L`` of the student and the teacher.
        embed_dims (int): Token channels (of the adapters).
        reduction (int): The adapters' reduction. Defaults to 16 (the
            official ``squeeze_factor``).
        decay (float): :class:`mmvitplug.ArchNetViTLoss` ``decay``.
            Defaults to 0.8.
        ce_weight (float): Its ``ce_weight``. Defaults to 1.0.
        label_smoothing (float): Its ``label_smoothing``. Defaults to 0.1.
        loss_weight (float): Its ``loss_weight``. Defaults to 1.0.
    """

    def __init__(self,
                 num_layers: int,
                 embed_dims: int,
                 reduction: int = 16,
                 decay: float = 0.8,
                 ce_weight: float = 1.0,
                 label_smoothing: float = 0.1,
                 loss_weight: float = 1.0):
        super().__init__(
            **self.settings(num_layers, embed_dims, reduction, decay,
                            ce_weight, label_smoothing, loss_weight))

    @staticmethod
    def settings(num_layers: int,
                 embed_dims: int,
                 reduction: int = 16,
                 decay: float = 0.8,
                 ce_weight: float = 1.0,
                 label_smoothing: float = 0.1,
                 loss_weight: float = 1.0) -> dict:
        """The :class:`ConfigurableDistiller` arguments (recorders,
        connectors, losses, loss inputs) this distiller is built of."""
        for name, value in (('num_layers', num_layers), ('embed_dims',
                                                         embed_dims)):
            if isinstance(value, bool) or not isinstance(value,
                                                         int) or value < 1:
                raise ValueError(
                    f'{name} must be an int >= 1, got {value!r}')
        features = [('blocks.0', 'ModuleInputs')] + [
            (f'blocks.{i}{where}', kind) for i in range(num_layers)
            for where, kind in (('.norm2', 'ModuleInputs'),
                                ('', 'ModuleOutputs'))
        ]

        def recorder(side: str, path: str, kind: str) -> dict:
            return dict(type=kind, source=side + path,
                        index=0 if kind == 'ModuleInputs' else None)

        adapted = range(1, len(features))
        return dict(
            recorders=dict(
                **{f's{k}': recorder('backbone.', path, kind)
                   for k, (path, kind) in enumerate(features)},
                **{f't{k}': recorder('teacher.backbone.', path, kind)
                   for k, (path, kind) in enumerate(features)},
                **{f's_attn{i}': dict(
                    source=f'backbone.blocks.{i}.attn.logits')
                   for i in range(num_layers)},
                **{f't_attn{i}': dict(
                    type='AttentionRelations',
                    source=f'teacher.backbone.blocks.{i}.attn', index='qk')
                   for i in range(num_layers)},
                s_logits=dict(source='head'),
                t_logits=dict(source='teacher')),
            connectors={
                f'a{k}': dict(
                    type='mmvitplug.ArchNetTokenAdapterConnector',
                    channels=embed_dims,
                    reduction=reduction)
                for k in adapted
            },
            losses=dict(
                loss_archnet=dict(
                    type='mmvitplug.ArchNetViTLoss',
                    num_layers=num_layers,
                    decay=decay,
                    ce_weight=ce_weight,
                    label_smoothing=label_smoothing,
                    loss_weight=loss_weight)),
            loss_inputs=dict(
                loss_archnet=dict(
                    student=['s0'] + [
                        dict(recorder=f's{k}', connector=f'a{k}')
                        for k in adapted
                    ],
                    teacher=[f't{k}' for k in range(len(features))],
                    student_attn=[f's_attn{i}' for i in range(num_layers)],
                    teacher_attn=[f't_attn{i}' for i in range(num_layers)],
                    student_logits='s_logits',
                    teacher_logits='t_logits')))


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
        state_dict = TEACHER_INITIALISERS[kind](self.teacher.state_dict(),
                                                self.backbone)
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
