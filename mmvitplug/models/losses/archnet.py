# Copyright (c) mmvitplug contributors.
"""Arch-Net's progressive blockwise distillation loss."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS
from .kd import _check_loss_weight


@MODELS.register_module()
class ArchNetLoss(nn.Module):
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
        if isinstance(num_outputs, bool) or not isinstance(
                num_outputs, int) or num_outputs < 1:
            raise ValueError(
                f'num_outputs must be an int >= 1, got {num_outputs!r}')
        if not 0 < decay <= 1:
            raise ValueError(f'decay must be in (0, 1], got {decay!r}')
        self.num_outputs = num_outputs
        self.decay = float(decay)
        self.loss_weight = _check_loss_weight(loss_weight)
        self.register_buffer('period', torch.tensor(0))

    def set_period(self, period: int) -> None:
        """Train the outputs ``0..period`` from now on."""
        if isinstance(period, bool) or not isinstance(period, int) or \
                not 0 <= period < self.num_outputs:
            raise ValueError(
                f'period must be an int in [0, {self.num_outputs - 1}] (one '
                f'per output), got {period!r}')
        self.period.fill_(period)

    def weights(self, period: int) -> Sequence[float]:
        """The weight of each output (0 after ``period``)."""
        return [
            self.decay**(period - i) if i <= period else 0.
            for i in range(self.num_outputs)
        ]

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
            if not isinstance(outs, (list, tuple)) or \
                    len(outs) != self.num_outputs:
                got = len(outs) if isinstance(outs, (list, tuple)) else \
                    type(outs).__name__
                raise ValueError(
                    f'ArchNetLoss needs {self.num_outputs} {name} outputs '
                    f'(num_outputs), got {got}')
        period = int(self.period)
        last = self.num_outputs - 1
        loss = student[0].new_zeros((), dtype=torch.float32)
        for i, weight in enumerate(self.weights(period)[:period + 1]):
            s, t = student[i].float(), teacher[i].detach().float()
            if s.shape != t.shape:
                raise ValueError(
                    f'ArchNetLoss: output {i} of the student has shape '
                    f'{tuple(s.shape)}, the teacher\'s {tuple(t.shape)}')
            if i == last:
                term = 1 - F.cosine_similarity(s, t, dim=1).mean()
            else:
                term = F.mse_loss(s, t)
            loss = loss + weight * term
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_outputs={self.num_outputs}, decay={self.decay}, '
                f'loss_weight={self.loss_weight}')
