# Copyright (c) mmvitplug contributors.
"""The DeiT distillation objective (hard, soft or no teacher)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS

DISTILL_TYPES = ('hard', 'soft', 'none')
KL_REDUCTIONS = ('batchmean', 'mean')


@MODELS.register_module()
class DeiTDistillLoss(nn.Module):
    r"""Loss of `DeiT <https://arxiv.org/abs/2012.12877>`_ (Eqs. 2 and 3).

    The class token is trained on the labels and the distillation token on
    the teacher::

        hard: (1 - alpha) * base(cls, y) + alpha * CE(dist, argmax(teacher))
        soft: (1 - alpha) * base(cls, y)
              + alpha * tau^2 * KL(softmax(teacher / tau)
                                   || softmax(dist / tau))
        none: (1 - alpha) * base(cls, y) + alpha * base(dist, y)

    ``base`` is any mmpretrain classification loss, so the targets may be
    class indices ``(N,)`` or the soft scores ``(N, C)`` that Mixup / CutMix
    batch augments produce, and label smoothing comes from
    ``base_loss=dict(type='LabelSmoothLoss', ...)``. The hard term uses the
    teacher's arg-max labels as they are (no smoothing, no mixing), as the
    official code does; the paper uses ``alpha=0.5`` for hard distillation
    and ``alpha=0.1, tau=3`` for soft distillation.

    How the KL term is reduced over the batch is ``kl_reduction``:
    ``'batchmean'`` sums it over classes and averages it over samples, the
    definition of Eq. 2; ``'mean'`` divides its sum by ``N * C``, as the
    official code does (``reduction='sum'`` then ``/ outputs_kd.numel()``)
    and with which the paper's numbers were obtained. With the same
    ``alpha``, ``'mean'`` weighs the teacher ``C`` times less (1000x on
    ImageNet).

    ``'none'`` is DeiT with two class tokens and no teacher (the paper's
    "two class tokens" control): both tokens learn the labels. It is the only
    type that takes no teacher logits; ``'hard'`` and ``'soft'`` require them.
    In :class:`mmvitplug.DistillationClassifier` the distiller gives every
    input by keyword from its recorders (the two student heads, the teacher
    head) and the batch targets; without a teacher,
    :class:`mmvitplug.DeiTDistillHead` calls it with ``distill_type='none'``.

    Args:
        distill_type (str): ``'hard'``, ``'soft'`` or ``'none'``.
            Defaults to ``'hard'``.
        alpha (float): Weight of the distillation-token term, in [0, 1]; the
            class-token term gets ``1 - alpha``. Defaults to 0.5.
        tau (float): Softmax temperature of the soft term; only
            ``distill_type='soft'`` uses it, other types reject any value but
            1. Defaults to 1.0.
        kl_reduction (str): Reduction of the soft term's KL over the batch,
            ``'batchmean'`` (Eq. 2) or ``'mean'`` (the official code); only
            ``distill_type='soft'`` uses it, other types reject
            ``'mean'``. Defaults to 'batchmean'.
        base_loss (dict): Config of the label loss, built in the mmpretrain
            scope (e.g. ``dict(type='LabelSmoothLoss', label_smooth_val=0.1,
            mode='original')``). Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
    """

    def __init__(self,
                 distill_type: str = 'hard',
                 alpha: float = 0.5,
                 tau: float = 1.0,
                 base_loss: dict = dict(type='CrossEntropyLoss',
                                        loss_weight=1.0),
                 kl_reduction: str = 'batchmean'):
        super().__init__()
        if distill_type not in DISTILL_TYPES:
            raise ValueError(f'Unknown distill_type {distill_type!r}; choose '
                             f'from {", ".join(map(repr, DISTILL_TYPES))}')
        if not 0. <= alpha <= 1.:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if not tau > 0.:
            raise ValueError(f'tau must be > 0, got {tau}')
        if distill_type != 'soft' and tau != 1.:
            raise ValueError(
                f"tau={tau} only applies to distill_type='soft', not "
                f'{distill_type!r}; remove it or use the soft type')
        if kl_reduction not in KL_REDUCTIONS:
            raise ValueError(
                f'Unknown kl_reduction {kl_reduction!r}; choose from '
                f'{", ".join(map(repr, KL_REDUCTIONS))} (the official '
                "DeiT code is 'mean')")
        if distill_type != 'soft' and kl_reduction != 'batchmean':
            raise ValueError(
                f"kl_reduction={kl_reduction!r} only applies to "
                f"distill_type='soft', not {distill_type!r}; remove it or "
                'use the soft type')
        self.distill_type = distill_type
        self.alpha = alpha
        self.tau = tau
        self.kl_reduction = kl_reduction
        self.base_loss = MMPRETRAIN_MODELS.build(base_loss)

    def forward(self,
                cls_logits: torch.Tensor,
                dist_logits: torch.Tensor,
                target: torch.Tensor,
                teacher_logits: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Compute the two terms.

        Args:
            cls_logits (Tensor): Class-token logits, (N, C).
            dist_logits (Tensor): Distillation-token logits, (N, C).
            target (Tensor): Labels (N,) or soft target scores (N, C).
            teacher_logits (Tensor, optional): Teacher logits (N, C) on the
                same (augmented, mixed) images; required by ``'hard'`` and
                ``'soft'``, refused by ``'none'``.

        Returns:
            dict[str, Tensor]: ``loss_cls`` (the weighted class-token term)
            and ``loss_distill`` (the weighted distillation-token term),
            logged separately and summed by the runner.
        """
        loss_cls = (1. - self.alpha) * self.base_loss(cls_logits, target)
        if self.distill_type == 'none':
            if teacher_logits is not None:
                raise ValueError(
                    "distill_type='none' trains without a teacher but got "
                    "teacher logits; use distill_type='hard' or 'soft'")
            distill = self.base_loss(dist_logits, target)
            return dict(loss_cls=loss_cls, loss_distill=self.alpha * distill)

        if teacher_logits is None:
            raise ValueError(
                f'distill_type={self.distill_type!r} needs teacher logits; '
                'train with mmvitplug.DistillationClassifier, whose distiller '
                'records the teacher logits and maps them to this loss, or '
                "use distill_type='none'")
        if teacher_logits.shape != dist_logits.shape:
            raise ValueError(
                f'teacher logits {tuple(teacher_logits.shape)} and '
                f'distillation logits {tuple(dist_logits.shape)} differ in '
                'shape: teacher and student must predict the same classes')
        teacher_logits = teacher_logits.detach()
        if self.distill_type == 'hard':
            distill = F.cross_entropy(dist_logits,
                                      teacher_logits.argmax(dim=1))
        else:
            tau = self.tau
            kl = F.kl_div(
                F.log_softmax(dist_logits / tau, dim=1),
                F.log_softmax(teacher_logits / tau, dim=1),
                reduction='sum',
                log_target=True)
            # 'batchmean': / N (Eq. 2); 'mean': / (N * C), the official code
            num = (dist_logits.size(0) if self.kl_reduction == 'batchmean'
                   else dist_logits.numel())
            distill = kl / num * tau * tau
        return dict(loss_cls=loss_cls, loss_distill=self.alpha * distill)
