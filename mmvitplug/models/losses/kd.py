# Copyright (c) mmvitplug contributors.
"""Knowledge-distillation losses: logits, features, relations, co-training.

Every loss here is called with keyword arguments only (see
:mod:`mmvitplug.models.losses.utils`), computes in float32 whatever the
dtype of its inputs (bf16 / fp16 under mixed precision) and returns one
scalar tensor multiplied by its ``loss_weight``. Losses that take a student
and a teacher (``preds`` and ``target``) never send a gradient to the
teacher side: ``target`` is detached before anything is computed on it.
"""
import math
from numbers import Real
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS

Features = Union[torch.Tensor, Sequence[torch.Tensor]]


def _check_loss_weight(loss_weight: float,
                       name: str = 'loss_weight') -> float:
    """``loss_weight`` as a float: a finite real number >= 0 (errors name
    the argument ``name``)."""
    if isinstance(loss_weight, bool) or not isinstance(loss_weight, Real):
        raise TypeError(f'{name} must be a real number, got {loss_weight!r}')
    if not math.isfinite(loss_weight) or loss_weight < 0:
        raise ValueError(
            f'{name} must be a finite number >= 0, got {loss_weight}')
    return float(loss_weight)


def _check_tau(tau: float) -> float:
    """A softmax temperature as a float: a finite real number > 0."""
    if isinstance(tau, bool) or not isinstance(tau, Real):
        raise TypeError(f'tau must be a real number, got {tau!r}')
    if not math.isfinite(tau) or not tau > 0:
        raise ValueError(f'tau must be a finite number > 0, got {tau}')
    return float(tau)


def _check_tensor(x: torch.Tensor, name: str, min_dim: int = 1,
                  dim: Optional[int] = None, layout: str = '') -> None:
    """Check that ``x`` is a non-empty floating-point tensor of ``dim``
    dimensions (or at least ``min_dim``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a tensor, got {type(x).__name__}')
    if not x.is_floating_point():
        raise TypeError(
            f'{name} must be a floating-point tensor, got {x.dtype}')
    if (dim is not None and x.dim() != dim) or x.dim() < min_dim:
        raise ValueError(
            f'{name} must be a {layout} tensor, got shape {tuple(x.shape)}')
    if x.numel() == 0:
        raise ValueError(f'{name} is empty, shape {tuple(x.shape)}')


def _check_same_shape(preds: torch.Tensor, target: torch.Tensor,
                      what: str = 'preds and target') -> None:
    if preds.shape != target.shape:
        raise ValueError(
            f'{what} differ in shape: {tuple(preds.shape)} and '
            f'{tuple(target.shape)}')


def _describe(x) -> str:
    """A value's kind for an error message: a list's length or a type."""
    if isinstance(x, (list, tuple)):
        return f'a list of {len(x)}'
    return type(x).__name__


def _kl_sum(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``sum p * (log p - log q)`` over every element, from log-probabilities
    ``log_q`` (the student) and ``log_p`` (the target)."""
    return F.kl_div(log_q, log_p, reduction='sum', log_target=True)


@MODELS.register_module()
class KLDivergenceLoss(nn.Module):
    r"""Temperature-scaled KL divergence between student and teacher logits
    (`Hinton et al. 2015 <https://arxiv.org/abs/1503.02531>`_).

    .. math::
        \mathcal{L} = w \cdot s \cdot \frac{1}{N}\sum_{i}
        \mathrm{KL}\big(\mathrm{softmax}(t_i / \tau) \,\|\,
        \mathrm{softmax}(p_i / \tau)\big),
        \qquad s = \tau^2 \text{ if ``tau_squared`` else } 1,

    summed over the classes and averaged over the samples (``batchmean``).
    Logits of shape (N, C, \*) (dense predictions, classes on dim 1) give one
    distribution per position: the KL is summed over the classes and
    averaged over all other positions (N and \*).

    The factor :math:`\tau^2` is Hinton's convention: the gradient of the
    softened KL scales as :math:`1 / \tau^2`, so multiplying by
    :math:`\tau^2` keeps the gradient magnitudes independent of the
    temperature. Papers differ: `function matching
    <https://arxiv.org/abs/2106.05237>`_ (Beyer et al. 2022) uses
    :math:`t^2 \cdot \mathrm{KL}` (``tau_squared=True``); `single-image
    distillation <https://arxiv.org/abs/2112.00725>`_ (Asano & Saeed 2023)
    uses ``T=8`` without :math:`T^2` (``tau=8., tau_squared=False``).

    Args:
        tau (float): Softmax temperature of both sides, > 0. Defaults to 1.0.
        tau_squared (bool): Whether to multiply the KL by ``tau ** 2``.
            Defaults to True.
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self,
                 tau: float = 1.0,
                 tau_squared: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        if not isinstance(tau_squared, bool):
            raise TypeError(
                f'tau_squared must be True or False, got {tau_squared!r}')
        self.tau = _check_tau(tau)
        self.tau_squared = tau_squared
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, preds: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor): Student logits (N, C) or (N, C, \\*).
            target (Tensor): Teacher logits of the same shape; detached.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        _check_tensor(preds, 'preds', min_dim=2, layout='(N, C) or (N, C, *)')
        _check_tensor(target, 'target', min_dim=2,
                      layout='(N, C) or (N, C, *)')
        _check_same_shape(preds, target, 'student logits (preds) and '
                          'teacher logits (target)')
        tau = self.tau
        log_s = F.log_softmax(preds.float() / tau, dim=1)
        log_t = F.log_softmax(target.detach().float() / tau, dim=1)
        # sum over the classes, mean over the N * (*) distributions
        loss = _kl_sum(log_t, log_s) / (preds.numel() // preds.size(1))
        if self.tau_squared:
            loss = loss * (tau * tau)
        return self.loss_weight * loss


@MODELS.register_module()
class HintLoss(nn.Module):
    """Mean squared error between a student and a teacher feature (a hint).

    With ``norm=True`` both features are first normalised over their last
    dimension by two separate learnable ``nn.LayerNorm(channels)``
    (``norm_student`` and ``norm_teacher``), as the hint loss of
    `Bootstrapping ViTs <https://arxiv.org/abs/2112.03552>`_ (Zhang et al.,
    CVPR 2022). The teacher feature is detached *before* its LayerNorm: no
    gradient reaches the teacher network, while ``norm_teacher``'s own
    parameters still train through the loss.

    ``loss_weight`` is a plain float attribute, read at every call, so that a
    hook may change it during training (e.g. to anneal the hint term).

    Lists of features (several layer pairs, e.g. Bootstrapping ViTs' six
    ViT block / agent-CNN block pairs) give the *sum* of the pairs' MSEs,
    all through the same two LayerNorms, as the official ``DistillHint``
    applied layer by layer.

    Args:
        channels (int, optional): The features' last dimension; required by
            ``norm=True`` (the size of both LayerNorms) and refused
            otherwise. Defaults to None.
        norm (bool): Whether to LayerNorm both features before the MSE.
            Defaults to False.
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self,
                 channels: Optional[int] = None,
                 norm: bool = False,
                 loss_weight: float = 1.0):
        super().__init__()
        if not isinstance(norm, bool):
            raise TypeError(f'norm must be True or False, got {norm!r}')
        if channels is not None and (isinstance(channels, bool)
                                     or not isinstance(channels, int)
                                     or channels < 1):
            raise ValueError(
                f'channels must be a positive int or None, got {channels!r}')
        if norm and channels is None:
            raise ValueError(
                'norm=True needs channels, the size of the features\' last '
                'dimension (that of both LayerNorms)')
        if not norm and channels is not None:
            raise ValueError(
                f'channels={channels} only applies to norm=True; remove it '
                'or set norm=True')
        self.channels = channels
        self.norm = norm
        self.loss_weight = _check_loss_weight(loss_weight)
        if norm:
            self.norm_student = nn.LayerNorm(channels)
            self.norm_teacher = nn.LayerNorm(channels)

    @staticmethod
    def _layer_norm(x: torch.Tensor, ln: nn.LayerNorm) -> torch.Tensor:
        """``ln(x)`` in float32 whatever the dtype of ``ln``'s parameters."""
        return F.layer_norm(x, ln.normalized_shape, ln.weight.float(),
                            ln.bias.float(), ln.eps)

    def forward(self, preds: Union[torch.Tensor, List[torch.Tensor]],
                target: Union[torch.Tensor, List[torch.Tensor]]
                ) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor | list[Tensor]): Student feature, e.g. tokens
                (N, L, C), or one per layer pair.
            target (Tensor | list[Tensor]): Teacher feature of the same
                shape (one per pair); detached.

        Returns:
            Tensor: The weighted loss (summed over pairs), a float32 scalar.
        """
        if isinstance(preds, (list, tuple)) or isinstance(
                target, (list, tuple)):
            if not (isinstance(preds, (list, tuple))
                    and isinstance(target, (list, tuple))
                    and len(preds) == len(target) and len(preds) > 0):
                raise ValueError(
                    'HintLoss takes one student and one teacher feature, or '
                    'two equally long, non-empty lists (one per layer pair); '
                    f'got {_describe(preds)} and {_describe(target)}')
            return sum(self(p, t) for p, t in zip(preds, target))
        _check_tensor(preds, 'preds', layout='feature')
        _check_tensor(target, 'target', layout='feature')
        _check_same_shape(preds, target, 'student feature (preds) and '
                          'teacher feature (target)')
        student = preds.float()
        teacher = target.detach().float()
        if self.norm:
            if preds.size(-1) != self.channels:
                raise ValueError(
                    f'HintLoss(channels={self.channels}) got features of '
                    f'shape {tuple(preds.shape)}, whose last dimension '
                    f'{preds.size(-1)} is not channels')
            student = self._layer_norm(student, self.norm_student)
            teacher = self._layer_norm(teacher, self.norm_teacher)
        return self.loss_weight * F.mse_loss(student, teacher)


@MODELS.register_module()
class RelationKLLoss(nn.Module):
    r"""Relation distillation of `TinyMIM <https://arxiv.org/abs/2301.01296>`_
    (Ren et al., CVPR 2023).

    The inputs are student and teacher *relation logits* (N, heads, L, L),
    the pre-softmax scores of a block such as
    :math:`QK^\top / \sqrt{d}` (or :math:`VV^\top / \sqrt{d}`). Each row
    becomes a distribution over its last dimension and

    .. math::
        \mathcal{L} = w \cdot \mathrm{mean}_{n, h, i}
        \mathrm{KL}\big(\mathrm{softmax}(t_{nhi}) \,\|\,
        \mathrm{softmax}(p_{nhi})\big),

    summed over the last dimension and averaged over samples, heads and rows.
    The student must have the teacher's head count in the distilled block.

    Args:
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, preds: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor): Student relation logits (N, heads, L, L).
            target (Tensor): Teacher relation logits of the same shape;
                detached.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        layout = '(N, heads, L, L) relation-logit'
        _check_tensor(preds, 'preds', dim=4, layout=layout)
        _check_tensor(target, 'target', dim=4, layout=layout)
        if preds.size(1) != target.size(1):
            raise ValueError(
                f'the student relations have {preds.size(1)} heads and the '
                f'teacher relations {target.size(1)} (shapes '
                f'{tuple(preds.shape)} and {tuple(target.shape)}): the '
                "student must have the teacher's head count in that block")
        _check_same_shape(preds, target, 'student relations (preds) and '
                          'teacher relations (target)')
        log_s = F.log_softmax(preds.float(), dim=-1)
        log_t = F.log_softmax(target.detach().float(), dim=-1)
        loss = _kl_sum(log_t, log_s) / (preds.numel() // preds.size(-1))
        return self.loss_weight * loss


@MODELS.register_module()
class JSDivergenceLoss(nn.Module):
    r"""Co-training loss of `Divide-and-Co-train
    <https://arxiv.org/abs/2011.14660>`_ (Zhao et al., TIP 2022): the
    generalised Jensen–Shannon divergence of S >= 2 networks' predictions.

    With :math:`p_s = \mathrm{softmax}(z_s / \tau)` the prediction of network
    :math:`s` and :math:`H` the entropy,

    .. math::
        \mathcal{L} = w \cdot \mathrm{mean}_n \Big[
        H\big(\tfrac{1}{S}\textstyle\sum_s p_{s,n}\big)
        - \tfrac{1}{S}\textstyle\sum_s H(p_{s,n}) \Big].

    Nothing is detached: every network gets gradients. The loss is 0 when all
    predictions agree.

    Args:
        tau (float): Softmax temperature, > 0. Defaults to 1.0.
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.tau = _check_tau(tau)
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """Compute the loss.

        Args:
            logits (list[Tensor] | tuple[Tensor]): The logits (N, C) of the
                S >= 2 networks on the same images.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        if not isinstance(logits, (list, tuple)):
            raise TypeError(
                'logits must be a list or tuple of the (N, C) logits of '
                f'S >= 2 networks, got {type(logits).__name__}')
        if len(logits) < 2:
            raise ValueError(
                'JSDivergenceLoss needs the logits of at least 2 networks, '
                f'got {len(logits)}')
        for i, z in enumerate(logits):
            _check_tensor(z, f'logits[{i}]', dim=2, layout='(N, C)')
            _check_same_shape(logits[0], z, f'logits[0] and logits[{i}]')
        # log p_s, (S, N, C)
        log_p = torch.stack(
            [F.log_softmax(z.float() / self.tau, dim=1) for z in logits])
        # log of the mean prediction, stable where a probability underflows
        log_mean = torch.logsumexp(log_p, dim=0) - math.log(len(logits))
        entropy_mean = -(log_mean.exp() * log_mean).sum(dim=1)
        mean_entropy = -(log_p.exp() * log_p).sum(dim=2).mean(dim=0)
        return self.loss_weight * (entropy_mean - mean_entropy).mean()


@MODELS.register_module()
class HCLLoss(nn.Module):
    r"""Hierarchical context loss of `ReviewKD
    <https://arxiv.org/abs/2104.09044>`_ (Chen et al., CVPR 2021), used by
    `TransKD <https://arxiv.org/abs/2202.13393>`_.

    For each pair of student / teacher feature maps (N, C, H, W), the MSE of
    the maps and of their ``k x k`` adaptive average poolings for ``k`` in
    ``levels``, with halving weights (1, 1/2, 1/4, ...) and normalised by
    their sum; a level ``k >= H`` is skipped (it would not pool). The losses
    of the pairs are summed::

        l = mse(fs, ft); w = total = 1
        for k in levels (k < H):
            w /= 2; l += w * mse(pool_k(fs), pool_k(ft)); total += w
        loss = sum over pairs of l / total

    Args:
        levels (Sequence[int]): Output sizes of the poolings, positive ints,
            in order (the first gets weight 1/2). Empty gives the plain MSE.
            Defaults to (4, 2, 1), as ReviewKD.
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self,
                 levels: Sequence[int] = (4, 2, 1),
                 loss_weight: float = 1.0):
        super().__init__()
        if not isinstance(levels, (list, tuple)):
            raise TypeError(
                'levels must be a list or tuple of positive ints, got '
                f'{levels!r}')
        bad = [k for k in levels
               if isinstance(k, bool) or not isinstance(k, int) or k < 1]
        if bad:
            raise ValueError(
                f'levels must be positive ints, got {tuple(levels)} '
                f'(bad: {bad})')
        self.levels = tuple(levels)
        self.loss_weight = _check_loss_weight(loss_weight)

    @staticmethod
    def _as_list(feats: Features, name: str) -> List[torch.Tensor]:
        if isinstance(feats, torch.Tensor):
            return [feats]
        if not isinstance(feats, (list, tuple)):
            raise TypeError(
                f'{name} must be a (N, C, H, W) tensor or a list / tuple of '
                f'them, got {type(feats).__name__}')
        if not feats:
            raise ValueError(f'{name} is an empty list of feature maps')
        return list(feats)

    def forward(self, preds: Features, target: Features) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor | list[Tensor] | tuple[Tensor]): Student feature
                maps (N, C, H, W).
            target (Tensor | list[Tensor] | tuple[Tensor]): Teacher feature
                maps, paired with ``preds`` and of the same shapes; detached.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        preds = self._as_list(preds, 'preds')
        target = self._as_list(target, 'target')
        if len(preds) != len(target):
            raise ValueError(
                f'got {len(preds)} student feature maps (preds) and '
                f'{len(target)} teacher feature maps (target); they are '
                'paired and must be as many')
        loss = 0.
        for i, (fs, ft) in enumerate(zip(preds, target)):
            _check_tensor(fs, f'preds[{i}]', dim=4, layout='(N, C, H, W)')
            _check_tensor(ft, f'target[{i}]', dim=4, layout='(N, C, H, W)')
            _check_same_shape(fs, ft, f'preds[{i}] and target[{i}]')
            fs = fs.float()
            ft = ft.detach().float()
            pair = F.mse_loss(fs, ft)
            weight = total = 1.
            for k in self.levels:
                if k >= fs.size(2):
                    continue
                weight /= 2.
                pair = pair + weight * F.mse_loss(
                    F.adaptive_avg_pool2d(fs, k),
                    F.adaptive_avg_pool2d(ft, k))
                total += weight
            loss = loss + pair / total
        return self.loss_weight * loss


@MODELS.register_module()
class ChannelWiseDivergenceLoss(nn.Module):
    r"""Channel-wise distillation of `CWD <https://arxiv.org/abs/2011.13256>`_
    (Shu et al., ICCV 2021).

    Each channel of a map (N, C, H, W) becomes a distribution over its
    ``H * W`` positions, :math:`\mathrm{softmax}(x_{nc} / \tau)`, and

    .. math::
        \mathcal{L} = w \cdot \frac{\tau^2}{N C} \sum_{n, c}
        \mathrm{KL}\big(\mathrm{softmax}(t_{nc} / \tau) \,\|\,
        \mathrm{softmax}(p_{nc} / \tau)\big).

    Args:
        tau (float): Softmax temperature, > 0. Defaults to 1.0.
        loss_weight (float): Factor on the loss, >= 0. Defaults to 1.0.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.tau = _check_tau(tau)
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, preds: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor): Student maps (N, C, H, W).
            target (Tensor): Teacher maps of the same shape; detached.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        _check_tensor(preds, 'preds', dim=4, layout='(N, C, H, W)')
        _check_tensor(target, 'target', dim=4, layout='(N, C, H, W)')
        _check_same_shape(preds, target, 'student maps (preds) and teacher '
                          'maps (target)')
        n, c = preds.shape[:2]
        tau = self.tau
        log_s = F.log_softmax(preds.float().reshape(n * c, -1) / tau, dim=1)
        log_t = F.log_softmax(
            target.detach().float().reshape(n * c, -1) / tau, dim=1)
        loss = _kl_sum(log_t, log_s) * (tau * tau) / (n * c)
        return self.loss_weight * loss
