# Copyright (c) mmvitplug contributors.
"""Softmax gradient tampering (PowerGrad Transform): cross-entropy whose
gradient at the logits is computed from a smoothed softmax."""
from numbers import Real
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS
from .kd import _check_loss_weight

REDUCTIONS = ('mean', 'sum', 'none')


class _TamperedCE(torch.autograd.Function):
    """Per-sample cross-entropy ``-sum_i q_i log softmax(z)_i`` (N,) whose
    backward uses ``softmax(alpha * z)`` in place of ``softmax(z)``."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, scores: torch.Tensor,
                alpha: float) -> torch.Tensor:
        ctx.save_for_backward(logits, scores)
        ctx.alpha = alpha
        return -(scores * F.log_softmax(logits, dim=1)).sum(1)

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        logits, scores = ctx.saved_tensors
        tampered = F.softmax(ctx.alpha * logits, dim=1)
        # d/dz of -sum_i q_i log p_i is p * sum_i q_i - q (p - q for q
        # summing to 1), with p replaced by the tampered p'
        grad = tampered * scores.sum(1, keepdim=True) - scores
        return grad * grad_loss.unsqueeze(1), None, None


def tampered_cross_entropy(logits: torch.Tensor, scores: torch.Tensor,
                           alpha: float) -> torch.Tensor:
    r"""Per-sample cross-entropy with the PowerGrad-transformed gradient.

    Forward: :math:`\ell_n = -\sum_i q_{ni} \log p_{ni}`, with
    :math:`p_n = \mathrm{softmax}(z_n)`. Backward:
    :math:`\partial \ell_n / \partial z_{ni} := p'_{ni} \sum_j q_{nj} -
    q_{ni}` (:math:`p'_{ni} - q_{ni}` for targets summing to 1) times the
    incoming gradient of :math:`\ell_n`, with :math:`p'_n =
    \mathrm{softmax}(\alpha z_n) = p_n^\alpha / \sum_j p_{nj}^\alpha`.
    ``alpha = 1`` is the exact cross-entropy gradient.

    Args:
        logits (Tensor): The logits (N, C), floating point.
        scores (Tensor): The target scores (N, C) (one-hot, smoothed or
            mixed labels), of the logits' dtype and device; no gradient
            is sent to them.
        alpha (float): The power of the transform, in [0, 1].

    Returns:
        Tensor: The per-sample losses (N,).
    """
    return _TamperedCE.apply(logits, scores, alpha)


@MODELS.register_module()
class TamperedCrossEntropyLoss(nn.Module):
    r"""Cross-entropy with softmax gradient tampering, the PowerGrad
    Transform of `Das et al. 2021, "Improving the generalisation of deep
    networks via softmax gradient tampering"
    <https://arxiv.org/abs/2111.12495>`_.

    The loss value is the cross-entropy; only its gradient at the logits
    changes: for each sample, :math:`\partial L / \partial z_i := p'_i -
    q_i` instead of :math:`p_i - q_i`, with the transformed probabilities

    .. math::
        p'_i = \frac{p_i^\alpha}{\sum_j p_j^\alpha}
             = \mathrm{softmax}(\alpha z)_i, \qquad 0 \le \alpha \le 1,

    (computed as the softmax of :math:`\alpha z`, which is the same
    distribution and never takes a power of an underflowed probability).
    :math:`\alpha = 1` is plain cross-entropy, :math:`\alpha \to 0` makes
    :math:`p'` uniform. The factors of the reduction reach the gradient as
    they would reach the cross-entropy's: with ``reduction='mean'`` the
    gradient is :math:`\frac{w}{N} (p' - q)` (``avg_factor`` in place of
    :math:`N` when given, the per-sample ``weight`` multiplying each row),
    exactly the cross-entropy's gradient with :math:`p'` for :math:`p`.
    The paper's appendix code (a hook on the logits, the same in the
    official ``bishshoy/power-grad-transform``) instead recovers
    :math:`p` as ``grad / N + q`` and returns ``(p' - q) * N``: right for an
    incoming gradient :math:`N (p - q)`, i.e. a mean-reduced loss scaled by
    :math:`N^2` (e.g. the AMP loss scale of :math:`2^{16}` at 256 images
    per GPU, until the scaler changes it); with the mean-reduced
    cross-entropy's :math:`(p - q) / N` it recovers a wrong :math:`p` and
    scales the gradient by :math:`N^2`. This loss has no such dependency.

    Use it as the loss of any mmpretrain classification head
    (``ClsHead``, ``LinearClsHead``, ``VisionTransformerClsHead``, ...),
    e.g. ``loss=dict(type='mmvitplug.TamperedCrossEntropyLoss',
    alpha=0.3)``; the heads call it as ``loss(cls_score, target,
    avg_factor=N)``. Targets may be labels (N,) or the soft scores (N, C)
    of Mixup / CutMix; ``label_smooth_val`` smooths either as mmpretrain's
    ``LabelSmoothLoss`` (mode ``'original'``) and the official code
    (``q = (1 - eps) q + eps / C``), whose loss is the cross-entropy with
    the smoothed targets. Computed in float32 whatever the dtype of the
    logits.

    Args:
        alpha (float): The power :math:`\alpha` of the transform, in [0, 1]
            (the paper's range; 1 gives plain cross-entropy). The paper's
            ImageNet ResNet-50 uses 0.05 (its best) or 0.3, ResNet-18 0.25.
            Defaults to 0.3 (the appendix code's value).
        label_smooth_val (float): Label smoothing :math:`\epsilon`, in
            [0, 1). Defaults to 0 (none).
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'`` (per-sample
            losses (N,)). Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss (and its gradient), >= 0.
            Defaults to 1.0.
    """

    def __init__(self,
                 alpha: float = 0.3,
                 label_smooth_val: float = 0.,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.alpha = self._check_alpha(alpha)
        if isinstance(label_smooth_val, bool) or not isinstance(
                label_smooth_val, Real):
            raise TypeError('label_smooth_val must be a real number, got '
                            f'{label_smooth_val!r}')
        if not 0 <= label_smooth_val < 1:
            raise ValueError(
                f'label_smooth_val must be in [0, 1), got {label_smooth_val}')
        self.label_smooth_val = float(label_smooth_val)
        self.reduction = self._check_reduction(reduction, 'reduction')
        self.loss_weight = _check_loss_weight(loss_weight)

    @staticmethod
    def _check_alpha(alpha: float) -> float:
        if isinstance(alpha, bool) or not isinstance(alpha, Real):
            raise TypeError(f'alpha must be a real number, got {alpha!r}')
        if not 0 <= alpha <= 1:
            raise ValueError(
                'alpha must be in [0, 1] (1: plain cross-entropy, 0: a '
                f'uniform p\'), got {alpha}')
        return float(alpha)

    @staticmethod
    def _check_reduction(reduction: str, name: str) -> str:
        if reduction not in REDUCTIONS:
            raise ValueError(
                f'{name} must be one of {REDUCTIONS}, got {reduction!r}')
        return reduction

    def _scores(self, target: torch.Tensor,
                logits: torch.Tensor) -> torch.Tensor:
        """The target scores (N, C) in float32 from labels (N,) or scores
        (N, C), smoothed."""
        n, num_classes = logits.shape
        if not isinstance(target, torch.Tensor):
            raise TypeError(
                f'label must be a tensor, got {type(target).__name__}')
        if target.dim() == 1 and not target.is_floating_point():
            if target.numel() != n:
                raise ValueError(
                    f'label has {target.numel()} labels for {n} samples')
            if target.numel() and (target.min() < 0
                                   or target.max() >= num_classes):
                raise ValueError(
                    f'label must hold class indices in [0, {num_classes}), '
                    f'got values in [{int(target.min())}, '
                    f'{int(target.max())}]')
            scores = F.one_hot(target.long(), num_classes).float()
        elif target.dim() == 2 and target.is_floating_point():
            if tuple(target.shape) != (n, num_classes):
                raise ValueError(
                    f'label scores must have the shape of cls_score '
                    f'{(n, num_classes)}, got {tuple(target.shape)}')
            scores = target.float()
        else:
            raise ValueError(
                'label must be integer class indices (N,) or floating-point '
                f'scores (N, C), got a {target.dtype} tensor of shape '
                f'{tuple(target.shape)}')
        if self.label_smooth_val:
            eps = self.label_smooth_val
            scores = scores * (1 - eps) + eps / num_classes
        return scores

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """The cross-entropy of ``cls_score`` (N, C) against ``label``
        (labels (N,) or scores (N, C)), with the tampered gradient.

        Args:
            cls_score (Tensor): The logits (N, C).
            label (Tensor): Class indices (N,) or target scores (N, C).
            weight (Tensor, optional): Per-sample weights (N,), multiplying
                each sample's loss (and gradient). Defaults to None.
            avg_factor (float, optional): The divisor of the summed losses
                for ``'mean'`` (mmpretrain's heads give N); not allowed with
                ``'sum'``; ``'none'`` returns the per-sample losses without
                it, as mmpretrain's losses do. Defaults to None (the number
                of samples).
            reduction_override (str, optional): ``'mean'``, ``'sum'`` or
                ``'none'`` in place of ``reduction``. Defaults to None.

        Returns:
            Tensor: The loss: a scalar, or (N,) for ``'none'``.
        """
        reduction = self.reduction if reduction_override is None else \
            self._check_reduction(reduction_override, 'reduction_override')
        if not isinstance(cls_score, torch.Tensor) or \
                not cls_score.is_floating_point() or cls_score.dim() != 2:
            raise ValueError(
                'cls_score must be floating-point logits (N, C), got '
                f'{getattr(cls_score, "dtype", type(cls_score).__name__)} '
                f'of shape {tuple(getattr(cls_score, "shape", ()))}')
        logits = cls_score.float()
        scores = self._scores(label, logits)
        loss = tampered_cross_entropy(logits, scores, self.alpha)
        if weight is not None:
            if tuple(weight.shape) != (logits.shape[0], ):
                raise ValueError(
                    f'weight must be per-sample weights of shape '
                    f'{(logits.shape[0], )}, got {tuple(weight.shape)}')
            loss = loss * weight.float()
        if reduction == 'mean':
            loss = loss.sum() / avg_factor if avg_factor is not None \
                else loss.mean()
        elif reduction == 'sum':
            if avg_factor is not None:
                raise ValueError(
                    "avg_factor can not be used with reduction='sum'")
            loss = loss.sum()
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, label_smooth_val='
                f'{self.label_smooth_val}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
