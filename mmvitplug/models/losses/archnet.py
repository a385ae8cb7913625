# Copyright (c) mmvitplug contributors.
"""Arch-Net's progressive blockwise distillation losses."""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS
from .kd import _check_loss_weight


def _check_decay(decay) -> float:
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or \
            not 0 < decay <= 1:
        raise ValueError(f'decay must be in (0, 1], got {decay!r}')
    return float(decay)


def decay_weights(count: int, decay: float) -> List[float]:
    """``decay ** (count - 1 - i)`` for ``i < count``: the last of
    ``count`` outputs weighs 1 (the official ``torch.logspace(count - 1, 0,
    count, base=decay)``)."""
    return [decay**(count - 1 - i) for i in range(count)]


class ArchNetPeriodLoss(nn.Module):
    """Base of the Arch-Net losses: the period is their state (a buffer,
    saved with the model), set by :class:`mmvitplug.ArchNetPeriodHook`
    before every training iteration; :attr:`num_periods` periods.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer('period', torch.tensor(0))

    @property
    def num_periods(self) -> int:
        raise NotImplementedError

    def set_period(self, period: int) -> None:
        """Train as period ``period`` says from now on."""
        last = self.num_periods - 1
        if isinstance(period, bool) or not isinstance(period, int) or \
                not 0 <= period <= last:
            raise ValueError(
                f'period must be an int in [0, {last}] '
                f'({type(self).__name__} has {self.num_periods} periods), '
                f'got {period!r}')
        self.period.fill_(period)


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    return value


def _check_list(outs, expected: int, what: str, loss: str):
    if not isinstance(outs, (list, tuple)) or len(outs) != expected:
        got = len(outs) if isinstance(outs, (list, tuple)) else \
            type(outs).__name__
        raise ValueError(f'{loss} needs {expected} {what}, got {got}')


def _pair(s: torch.Tensor, t: torch.Tensor, what: str, loss: str):
    """``s`` and the detached ``t`` in float32, checked to match."""
    if s.shape != t.shape:
        raise ValueError(f'{loss}: {what} of the student has shape '
                         f'{tuple(s.shape)}, the teacher\'s {tuple(t.shape)}')
    return s.float(), t.detach().float()


@MODELS.register_module()
class ArchNetLoss(ArchNetPeriodLoss):
    r"""The period loss of `Arch-Net <https://arxiv.org/abs/2111.01135>`_:
    the student is taught one more output per period.

    The student and the teacher give ``num_outputs`` outputs in network
    order (ResNet-18: the stem, three per block, the logits: 26). In period
    :math:`p` (0-based) the outputs :math:`0..p` are compared, the later
    ones the most::

        L_p = w * sum_{i <= p} decay ** (p - i) * d_i

    with :math:`d_i` the mean squared error of output :math:`i` and, for the
    last output (the logits), ``1 - mean cos(student, teacher)`` (cosine
    over dim 1, averaged over the batch), which leaves the scale of the
    student's clipped logits free. The last period (``p = num_outputs - 1``)
    thus weighs every feature by ``decay ** (p - i)`` and the logits by 1,
    as the official ``train_archnet_resnet18.py``. No label is used.

    The period is the loss's state (a buffer, saved with the model); the
    :class:`mmvitplug.ArchNetPeriodHook` sets it before every training
    iteration from the runner's position (and logs it).

    Args:
        num_outputs (int): Outputs the student and teacher lists have.
        decay (float): Weight ratio between an output and the next one, in
            (0, 1]. Defaults to 0.8.
        loss_weight (float): Weight ``w`` of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_outputs: int,
                 decay: float = 0.8,
                 loss_weight: float = 1.0):
        super().__init__()
        self.num_outputs = _check_count(num_outputs, 'num_outputs')
        self.decay = _check_decay(decay)
        self.loss_weight = _check_loss_weight(loss_weight)

    @property
    def num_periods(self) -> int:
        """One period per output: period ``p`` trains the outputs
        ``0..p``."""
        return self.num_outputs

    def weights(self, period: int) -> Sequence[float]:
        """The weight of each output (0 after ``period``)."""
        return decay_weights(period + 1, self.decay) + \
            [0.] * (self.num_outputs - period - 1)

    def forward(self, student: Sequence[torch.Tensor],
                teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        """The loss of the current period.

        Args:
            student (Sequence[Tensor]): The student's outputs, in order
                (its adapted features and its logits last).
            teacher (Sequence[Tensor]): The teacher's, the same shapes.

        Returns:
            Tensor: The weighted loss (float32 scalar).
        """
        for name, outs in (('student', student), ('teacher', teacher)):
            _check_list(outs, self.num_outputs,
                        f'{name} outputs (num_outputs)', 'ArchNetLoss')
        period = int(self.period)
        last = self.num_outputs - 1
        loss = student[0].new_zeros((), dtype=torch.float32)
        for i, weight in enumerate(self.weights(period)[:period + 1]):
            s, t = _pair(student[i], teacher[i], f'output {i}',
                         'ArchNetLoss')
            if i == last:
                term = 1 - F.cosine_similarity(s, t, dim=1).mean()
            else:
                term = F.mse_loss(s, t)
            loss = loss + weight * term
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_outputs={self.num_outputs}, decay={self.decay}, '
                f'loss_weight={self.loss_weight}')


@MODELS.register_module()
class ArchNetViTLoss(ArchNetPeriodLoss):
    r"""The period loss of `Arch-Net <https://arxiv.org/abs/2111.01135>`_'s
    Transformer student, for a ViT (:class:`mmvitplug.ArchNetViT`): one
    more block per period, then the whole network on the teacher's
    predictions.

    The student and the teacher give, for ``L = num_layers`` blocks,
    ``2 L + 1`` features (the stem's tokens, then per block the residual
    stream after its attention and after its MLP), ``L`` attention logit
    maps (B, H, N, N) and their logits. Over ``L + 2`` periods:

    - period :math:`p \le L` compares the first :math:`n = 2p + 1`
      features by MSE and the first :math:`m = p` attention maps by ``1 -
      cos`` of their softmaxes over the keys, each group weighted by
      :func:`decay_weights` (its last compared entry weighs 1)::

          L_p = sum_{i<n} decay^(n-1-i) MSE_i
              + sum_{j<m} decay^(m-1-j) (1 - mean cos(sm(s_j), sm(t_j)))

      (``sm``: the softmax over the keys)

    - the last period, :math:`p = L + 1`, adds to every term the
      cross-entropy of the student's logits with the teacher's argmax,
      label-smoothed as officially (the argmax gets ``1 - eps``, every
      other class ``eps / (K - 1)``), weighted by ``ce_weight``.

    As the official ``train_archnet_transformer.py`` (period 0 its stem,
    one layer per period, a last period with the label-smoothed
    cross-entropy to the teacher's argmax and every term), but: the
    attention maps are compared over the keys (officially ``cosine_
    similarity``'s default dim 1, the heads), the cross-entropy is averaged
    over the batch (officially summed over the tokens of a batch, so that it
    outweighs the other terms by about the batch's token count: raise
    ``ce_weight`` for that balance) and there is no separate embedding term
    (the stem's tokens are the first feature). No label is used.

    Args:
        num_layers (int): Blocks ``L`` of the student (and the teacher).
        decay (float): Weight ratio between a term and the next of its
            group, in (0, 1]. Defaults to 0.8.
        ce_weight (float): Weight of the last period's cross-entropy.
            Defaults to 1.0.
        label_smoothing (float): ``eps`` of the cross-entropy, in [0, 1).
            Defaults to 0.1.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 num_layers: int,
                 decay: float = 0.8,
                 ce_weight: float = 1.0,
                 label_smoothing: float = 0.1,
                 loss_weight: float = 1.0):
        super().__init__()
        self.num_layers = _check_count(num_layers, 'num_layers')
        self.decay = _check_decay(decay)
        self.ce_weight = _check_loss_weight(ce_weight, 'ce_weight')
        if isinstance(label_smoothing, bool) or not isinstance(
                label_smoothing, (int, float)) or \
                not 0 <= label_smoothing < 1:
            raise ValueError(
                f'label_smoothing must be in [0, 1), got {label_smoothing!r}')
        self.label_smoothing = float(label_smoothing)
        self.loss_weight = _check_loss_weight(loss_weight)

    @property
    def num_periods(self) -> int:
        """``num_layers + 2``: the stem, each block, the whole network."""
        return self.num_layers + 2

    def counts(self, period: int):
        """(features, attention maps) compared in ``period``, and whether
        it has the cross-entropy."""
        blocks = min(period, self.num_layers)
        return 2 * blocks + 1, blocks, period == self.num_periods - 1

    def smoothed_ce(self, logits: torch.Tensor,
                    teacher_logits: torch.Tensor) -> torch.Tensor:
        """The label-smoothed cross-entropy with the teacher's argmax,
        averaged over the batch."""
        logits, teacher_logits = _pair(logits, teacher_logits, 'the logits',
                                       'ArchNetViTLoss')
        num_classes = logits.size(1)
        eps = self.label_smoothing
        target = F.one_hot(teacher_logits.argmax(1), num_classes).float()
        other = eps / (num_classes - 1) if num_classes > 1 else 0.
        target = target * (1 - eps) + (1 - target) * other
        return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()

    def forward(self, student: Sequence[torch.Tensor],
                teacher: Sequence[torch.Tensor],
                student_attn: Sequence[torch.Tensor],
                teacher_attn: Sequence[torch.Tensor],
                student_logits: torch.Tensor,
                teacher_logits: torch.Tensor) -> torch.Tensor:
        """The loss of the current period.

        Args:
            student (Sequence[Tensor]): The student's ``2 L + 1`` features
                (B, N, C), adapted.
            teacher (Sequence[Tensor]): The teacher's.
            student_attn (Sequence[Tensor]): The student's ``L`` attention
                logits (B, H, N, N) (before the softmax).
            teacher_attn (Sequence[Tensor]): The teacher's.
            student_logits (Tensor): The student's logits (B, K).
            teacher_logits (Tensor): The teacher's.

        Returns:
            Tensor: The weighted loss (float32 scalar).
        """
        name = 'ArchNetViTLoss'
        features = 2 * self.num_layers + 1
        for what, outs, count in (
                ('student features', student, features),
                ('teacher features', teacher, features),
                ('student attention maps', student_attn, self.num_layers),
                ('teacher attention maps', teacher_attn, self.num_layers)):
            _check_list(outs, count, f'{what} (num_layers={self.num_layers})',
                        name)
        num_feats, num_maps, with_ce = self.counts(int(self.period))
        loss = student[0].new_zeros((), dtype=torch.float32)
        for i, weight in enumerate(decay_weights(num_feats, self.decay)):
            s, t = _pair(student[i], teacher[i], f'feature {i}', name)
            loss = loss + weight * F.mse_loss(s, t)
        for j, weight in enumerate(decay_weights(num_maps, self.decay)):
            s, t = _pair(student_attn[j], teacher_attn[j],
                         f'attention map {j}', name)
            cos = F.cosine_similarity(s.softmax(-1), t.softmax(-1), dim=-1)
            loss = loss + weight * (1 - cos.mean())
        if with_ce:
            loss = loss + self.ce_weight * self.smoothed_ce(
                student_logits, teacher_logits)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_layers={self.num_layers}, decay={self.decay}, '
                f'ce_weight={self.ce_weight}, '
                f'label_smoothing={self.label_smoothing}, '
                f'loss_weight={self.loss_weight}')
