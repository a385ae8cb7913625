# Copyright (c) mmvitplug contributors.
"""Primitives of the `Dynamic Resolution Network
<https://arxiv.org/abs/2106.02898>`_ (DRNet, Zhu et al., NeurIPS 2021).

- :class:`ResolutionBatchNorm2d`: resolution-aware BatchNorm, one set of
  running statistics and affine parameters per candidate resolution, the
  set used chosen by its ``resolution_index`` (the official ``_bn(x,
  bn_selection)`` with its ``bn_0``, ``bn_1``, ``bn_2``);
- :func:`convert_to_resolution_bn`: swaps every ``nn.BatchNorm2d`` of a
  network for one in place (each resolution starting from the plain
  BatchNorm's state); :func:`select_resolution` picks the set of all of
  them at once;
- :func:`hard_gumbel_softmax`: the straight-through hard Gumbel-softmax
  (one-hot forward, the soft sample's gradient), with injectable noise;
- :func:`resize_to`: the bilinear resize of a batch to a square size.

Pure torch.
"""
from numbers import Integral
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResolutionBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d with one set of statistics and affine parameters per
    input resolution (DRNet's resolution-aware BN).

    The parameters and buffers are stacked: ``weight``, ``bias``,
    ``running_mean``, ``running_var`` are (R, C) and ``num_batches_tracked``
    is (R,), row ``r`` being the BatchNorm of resolution ``r``. The forward
    normalises with row ``resolution_index`` only (set it directly or with
    :func:`select_resolution`): in training mode it uses the batch
    statistics and updates that row's running statistics only; in eval mode
    it uses that row's running statistics.

    It is an ``nn.BatchNorm2d`` (a ``_BatchNorm``), so that what OpenMMLab
    does to norms reaches every row: ``norm_eval``, the ``Constant``
    initialisation of ``_BatchNorm`` layers, ResNet's zero-initialised last
    norm of each residual block (``constant_init(norm, 0)`` on the stacked
    weight) and ``norm_decay_mult`` in the optimizer constructor.

    Loading a plain BatchNorm's state (``weight`` (C,) and so on: a
    checkpoint of the network before conversion) copies it into every row.

    Args:
        num_features (int): Channels C.
        num_resolutions (int): Number R of candidate resolutions, >= 1.
        eps (float): As ``nn.BatchNorm2d``. Defaults to 1e-5.
        momentum (float, optional): As ``nn.BatchNorm2d`` (None: the
            cumulative average, counted per resolution). Defaults to 0.1.
        affine (bool): As ``nn.BatchNorm2d``. Defaults to True.
        track_running_stats (bool): As ``nn.BatchNorm2d``. Defaults to True.
    """

    def __init__(self,
                 num_features: int,
                 num_resolutions: int,
                 eps: float = 1e-5,
                 momentum: Optional[float] = 0.1,
                 affine: bool = True,
                 track_running_stats: bool = True):
        if isinstance(num_resolutions, bool) or not isinstance(
                num_resolutions, Integral) or num_resolutions < 1:
            raise ValueError('num_resolutions must be an int >= 1, got '
                             f'{num_resolutions!r}')
        super().__init__(num_features, eps, momentum, affine,
                         track_running_stats)
        self.num_resolutions = int(num_resolutions)
        self.resolution_index = 0
        shape = (self.num_resolutions, num_features)
        if affine:
            self.weight = nn.Parameter(torch.ones(shape))
            self.bias = nn.Parameter(torch.zeros(shape))
        if track_running_stats:
            self.running_mean = torch.zeros(shape)
            self.running_var = torch.ones(shape)
            self.num_batches_tracked = torch.zeros(
                self.num_resolutions, dtype=torch.long)

    @classmethod
    def from_batchnorm(cls, bn: nn.BatchNorm2d,
                       num_resolutions: int) -> 'ResolutionBatchNorm2d':
        """A resolution-aware copy of ``bn``: its settings, its state in
        every row, on its device and in its dtype, in its training mode."""
        new = cls(bn.num_features, num_resolutions, bn.eps, bn.momentum,
                  bn.affine, bn.track_running_stats)
        new.to(device=_device_of(bn), dtype=_dtype_of(bn))
        with torch.no_grad():
            for name, value in list(bn.named_parameters(recurse=False)) + \
                    list(bn.named_buffers(recurse=False)):
                if value is not None:
                    getattr(new, name).copy_(value.expand_as(
                        getattr(new, name)))
        new.train(bn.training)
        return new

    def _check_index(self) -> int:
        index = self.resolution_index
        if isinstance(index, bool) or not isinstance(index, Integral) or \
                not 0 <= index < self.num_resolutions:
            raise ValueError(
                f'resolution_index must be an int in [0, '
                f'{self.num_resolutions - 1}] (one of the '
                f'{self.num_resolutions} resolutions), got {index!r}')
        return int(index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (N, C, H, W) with the BatchNorm of resolution
        ``resolution_index``."""
        self._check_input_dim(x)
        i = self._check_index()
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked[i].add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked[i])
        use_batch_stats = self.training or not self.track_running_stats
        tracked = self.track_running_stats
        return F.batch_norm(
            x, self.running_mean[i] if tracked else None,
            self.running_var[i] if tracked else None,
            self.weight[i] if self.affine else None,
            self.bias[i] if self.affine else None, use_batch_stats,
            momentum, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # a plain BatchNorm's (C,) / scalar entries: copied to every row
        for name in ('weight', 'bias', 'running_mean', 'running_var',
                     'num_batches_tracked'):
            key = prefix + name
            own = getattr(self, name, None)
            value = state_dict.get(key)
            if own is None or not isinstance(value, torch.Tensor):
                continue
            if value.dim() == own.dim() - 1 and \
                    value.shape == own.shape[1:]:
                state_dict[key] = value.unsqueeze(0).expand_as(own).clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (super().extra_repr() +
                f', num_resolutions={self.num_resolutions}')


def _device_of(module: nn.Module) -> torch.device:
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return torch.device('cpu')


def _dtype_of(module: nn.Module) -> torch.dtype:
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


def convert_to_resolution_bn(module: nn.Module, num_resolutions: int) -> int:
    """Swap every ``nn.BatchNorm2d`` of ``module`` for a
    :class:`ResolutionBatchNorm2d` in place.

    Every resolution starts from the plain BatchNorm's parameters and
    running statistics. Modules already converted (with the same number of
    resolutions) are kept, so converting twice changes nothing.

    Args:
        module (nn.Module): The network, converted in place.
        num_resolutions (int): Number of candidate resolutions.

    Returns:
        int: The number of resolution-aware BatchNorms in ``module`` after
        the conversion.

    Raises:
        ValueError: A SyncBatchNorm or another BatchNorm subclass (whose own
            forward would be lost), or a resolution-aware BatchNorm with a
            different number of resolutions.
    """
    if isinstance(module, nn.BatchNorm2d) and not isinstance(
            module, ResolutionBatchNorm2d):
        raise ValueError('convert_to_resolution_bn converts the BatchNorms '
                         'inside a network, in place: give it the network '
                         'that holds this BatchNorm2d')
    count = 0
    for name, child in list(module.named_modules()):
        if isinstance(child, ResolutionBatchNorm2d):
            if child.num_resolutions != num_resolutions:
                raise ValueError(
                    f'{name} is already resolution-aware with '
                    f'{child.num_resolutions} resolutions, not '
                    f'{num_resolutions}')
            count += 1
            continue
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and \
                type(child) is not nn.BatchNorm2d:
            raise ValueError(
                f'{name} is a {type(child).__name__}: only nn.BatchNorm2d '
                'can be made resolution-aware (build the network with '
                "norm_cfg=dict(type='BN'))")
    for name, child in list(module.named_modules()):
        for attr, bn in list(child.named_children()):
            if type(bn) is nn.BatchNorm2d:
                setattr(child, attr,
                        ResolutionBatchNorm2d.from_batchnorm(
                            bn, num_resolutions))
                count += 1
    return count


def select_resolution(module: nn.Module, index: int) -> int:
    """Make every :class:`ResolutionBatchNorm2d` of ``module`` use the
    statistics and parameters of resolution ``index``.

    Args:
        module (nn.Module): The network.
        index (int): The resolution's index.

    Returns:
        int: The number of BatchNorms set.
    """
    count = 0
    for m in module.modules():
        if isinstance(m, ResolutionBatchNorm2d):
            m.resolution_index = index
            m._check_index()
            count += 1
    return count


def hard_gumbel_softmax(logits: torch.Tensor,
                        tau: float = 1.0,
                        gumbels: Optional[torch.Tensor] = None,
                        dim: int = -1) -> torch.Tensor:
    """Straight-through hard Gumbel-softmax: the one-hot of
    ``argmax(logits + g)`` in the forward, the gradient of the soft sample
    ``softmax((logits + g) / tau)`` in the backward (``hard - soft.detach()
    + soft``), as ``F.gumbel_softmax(hard=True)``, which draws the same
    noise from the same random state.

    Args:
        logits (Tensor): Unnormalised log-probabilities.
        tau (float): Temperature > 0. Defaults to 1.0.
        gumbels (Tensor, optional): The Gumbel noise ``g`` (the shape of
            ``logits``), e.g. zeros for the plain straight-through argmax;
            None draws it as ``F.gumbel_softmax``:
            ``-log(Exponential(1))``. Defaults to None.
        dim (int): The categories' dimension. Defaults to -1.

    Returns:
        Tensor: The hard one-hot sample, differentiable.
    """
    if not tau > 0:
        raise ValueError(f'tau must be > 0, got {tau!r}')
    if gumbels is None:
        gumbels = -torch.empty_like(
            logits, memory_format=torch.legacy_contiguous_format
        ).exponential_().log()
    elif gumbels.shape != logits.shape:
        raise ValueError(f'gumbels {tuple(gumbels.shape)} must have the '
                         f'shape of logits {tuple(logits.shape)}')
    soft = ((logits + gumbels) / tau).softmax(dim)
    index = soft.argmax(dim, keepdim=True)
    hard = torch.zeros_like(
        logits, memory_format=torch.legacy_contiguous_format).scatter_(
            dim, index, 1.0)
    return hard - soft.detach() + soft


def resize_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``, no antialiasing, as
    DRNet's MindSpore ``ResizeBilinear``) of a batch (N, C, H, W) to
    ``size`` x ``size``; the batch itself when it has that size."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(
        x, size=(size, size), mode='bilinear', align_corners=False)
