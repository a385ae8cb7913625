# Copyright (c) mmvitplug contributors.
"""The self-distillation loss of DINO, with its centre."""
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size

from mmvitplug.registry import MODELS


def _as_fp32(outputs: Sequence[torch.Tensor], name: str) -> List[torch.Tensor]:
    """Per-crop outputs as float32 tensors of one shape (B, K)."""
    if isinstance(outputs, torch.Tensor) or not isinstance(
            outputs, (list, tuple)) or not outputs:
        raise TypeError(f'{name} must be a non-empty list of (B, K) tensors, '
                        'one per crop')
    shape = outputs[0].shape
    for out in outputs:
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise ValueError(f'{name}: every crop output must be a (B, K) '
                             f'tensor, got {getattr(out, "shape", out)}')
        if out.shape != shape:
            raise ValueError(f'{name}: crop outputs of different shapes '
                             f'{tuple(shape)} and {tuple(out.shape)}')
    return [out.float() for out in outputs]


@MODELS.register_module()
class DINOLoss(nn.Module):
    r"""Self-distillation loss of `DINO <https://arxiv.org/abs/2104.14294>`_
    (Caron et al. 2021), with its centre.

    The teacher's output :math:`t_i` on global crop :math:`i` is centred and
    sharpened into a target distribution,
    :math:`P_i = \mathrm{softmax}((t_i - c) / \tau_t)` (no gradient), and the
    student's output :math:`s_v` on every crop :math:`v` becomes
    :math:`\log \mathrm{softmax}(s_v / \tau_s)`. The loss is the mean over
    all pairs :math:`(i, v)` with :math:`v \neq i` (a crop is never its own
    target) of the batch-mean cross-entropy
    :math:`-\sum_k P_{i,k} \log \mathrm{softmax}(s_v / \tau_s)_k`. With 2
    global crops and :math:`V` crops in all there are :math:`2V - 2` pairs.
    Crop ``i`` of the teacher is crop ``i`` of the student (the global crops
    come first), as in the official code.

    After the loss, the centre (a buffer, so that it is saved and resumed
    with the model) moves towards the batch mean of the teacher outputs,
    :math:`c \leftarrow m c + (1 - m)\,\mathrm{mean}(t)`, the mean taken
    over every global crop of every process (all-reduced with
    :mod:`mmengine.dist`, a no-op when not distributed).

    Everything is computed in float32, also under ``--amp`` autocast (the
    inputs are cast, autocast is disabled inside): the sharpened softmax at
    :math:`\tau_t = 0.04` and :math:`K = 65536` outputs is where fp16
    training goes NaN (dino#58).

    The teacher temperature :math:`\tau_t` is the attribute
    ``teacher_temp``; its warm-up (0.04 to 0.07 over 30 epochs in the
    paper) is set each epoch by :class:`~mmvitplug.engine.hooks.
    DINOTeacherTempWarmupHook`.

    Args:
        out_channels (int): Number of head outputs :math:`K` (the centre's
            size).
        student_temp (float): :math:`\tau_s`. Defaults to 0.1.
        teacher_temp (float): :math:`\tau_t` until a hook sets it. Defaults
            to 0.04 (the official start of the warm-up).
        center_momentum (float): :math:`m`. Defaults to 0.9.
    """

    def __init__(self,
                 out_channels: int,
                 student_temp: float = 0.1,
                 teacher_temp: float = 0.04,
                 center_momentum: float = 0.9):
        super().__init__()
        if not isinstance(out_channels, int) or out_channels < 1:
            raise ValueError('out_channels must be a positive int (the head '
                             f'output size K), got {out_channels!r}')
        for name, value in (('student_temp', student_temp),
                            ('teacher_temp', teacher_temp)):
            if not value > 0:
                raise ValueError(f'{name} must be > 0, got {value!r}')
        if not 0. <= center_momentum < 1.:
            raise ValueError('center_momentum must be in [0, 1), got '
                             f'{center_momentum!r}')
        self.out_channels = out_channels
        self.student_temp = float(student_temp)
        self.teacher_temp = float(teacher_temp)
        self.center_momentum = float(center_momentum)
        self.register_buffer('center', torch.zeros(1, out_channels))

    @torch.no_grad()
    def teacher_probs(self, teacher_output: torch.Tensor) -> torch.Tensor:
        """The centred, sharpened teacher distribution (float32, no grad).

        Args:
            teacher_output (Tensor): Teacher head outputs (N, K).

        Returns:
            Tensor: :math:`\\mathrm{softmax}((t - c) / \\tau_t)`, (N, K).
        """
        if teacher_output.shape[-1] != self.out_channels:
            raise ValueError(
                f'teacher outputs have {teacher_output.shape[-1]} channels, '
                f'the loss was built for out_channels={self.out_channels}')
        with torch.autocast(teacher_output.device.type, enabled=False):
            return F.softmax(
                (teacher_output.float() - self.center) / self.teacher_temp,
                dim=-1)

    @torch.no_grad()
    def update_center(self, teacher_output: torch.Tensor) -> None:
        """Move the centre towards the batch mean of ``teacher_output``
        (N, K), the mean over all processes."""
        with torch.autocast(teacher_output.device.type, enabled=False):
            batch_sum = teacher_output.float().sum(dim=0, keepdim=True)
            all_reduce(batch_sum)
            batch_center = batch_sum / (
                teacher_output.shape[0] * get_world_size())
            self.center.mul_(self.center_momentum).add_(
                batch_center, alpha=1. - self.center_momentum)

    def forward(self, student_outputs: Sequence[torch.Tensor],
                teacher_outputs: Sequence[torch.Tensor]
                ) -> Dict[str, torch.Tensor]:
        """The loss over all teacher / student crop pairs, then the centre
        update.

        Args:
            student_outputs (list[Tensor]): Student head outputs, one (B, K)
                tensor per crop, the global crops first.
            teacher_outputs (list[Tensor]): Teacher head outputs, one (B, K)
                tensor per global crop, in the same order.

        Returns:
            dict[str, Tensor]: ``{'loss': ...}``, a float32 scalar.
        """
        student = _as_fp32(student_outputs, 'student_outputs')
        teacher = _as_fp32(teacher_outputs, 'teacher_outputs')
        if student[0].shape != teacher[0].shape:
            raise ValueError(
                f'student crops {tuple(student[0].shape)} and teacher crops '
                f'{tuple(teacher[0].shape)} must have the same (B, K)')
        if len(teacher) > len(student):
            raise ValueError(
                f'{len(teacher)} teacher crops but only {len(student)} '
                'student crops: the teacher sees the first crops of the '
                'student')
        num_pairs = len(teacher) * len(student) - len(teacher)
        if num_pairs == 0:
            raise ValueError(
                'no teacher / student pair of different crops: give the '
                'student at least one crop besides the teacher crop(s)')
        with torch.autocast(student[0].device.type, enabled=False):
            all_teacher = torch.cat(teacher)
            targets = self.teacher_probs(all_teacher).chunk(len(teacher))
            log_probs = [
                F.log_softmax(s / self.student_temp, dim=-1) for s in student
            ]
            total = student[0].new_zeros(())
            for i, target in enumerate(targets):
                for v, log_prob in enumerate(log_probs):
                    if v == i:  # a crop is never its own target
                        continue
                    total = total + torch.sum(
                        -target * log_prob, dim=-1).mean()
            loss = total / num_pairs
        self.update_center(all_teacher)
        return dict(loss=loss)

    def extra_repr(self) -> str:
        return (f'out_channels={self.out_channels}, '
                f'student_temp={self.student_temp}, '
                f'teacher_temp={self.teacher_temp}, '
                f'center_momentum={self.center_momentum}')
