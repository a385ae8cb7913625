# Copyright (c) mmvitplug contributors.
"""Gradient clipping modes mmengine lacks, for any optimizer wrapper.

mmengine's wrappers clip with ``clip_grad=dict(type='norm' | 'value', ...)``
only. The wrappers here (:class:`ClipOptimWrapper`, its fp16 twin
:class:`AmpClipOptimWrapper` and :class:`~mmvitplug.engine.BF16OptimWrapper`)
also take:

- ``dict(type='agc', clip_factor=0.01, eps=1e-3)``: adaptive gradient
  clipping of `NFNets <https://arxiv.org/abs/2102.06171>`_, as timm's
  ``--clip-mode agc`` that LeViT trains with: unit-wise (per output row of a
  weight, whole vector for biases / norms), a gradient whose norm exceeds
  ``clip_factor * max(|w|, eps)`` is rescaled to that norm;
- ``dict(type='param_norm', max_norm=3.0)``: each parameter's gradient is
  clipped to ``max_norm`` on its own (DINO's ``clip_gradients``), rather
  than the norm of all gradients together.

The clipping runs where mmengine clips: after the fp16 gradients are
unscaled, before the optimizer step, once per accumulated update.
"""
import inspect
from typing import Dict, Iterable, List, Optional

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmvitplug.registry import OPTIM_WRAPPERS


def _unitwise_norm(x: torch.Tensor) -> torch.Tensor:
    """L2 norm per output unit: over all but the first dim (keepdim), or of
    the whole tensor for 0-/1-D tensors."""
    if x.ndim <= 1:
        return torch.linalg.vector_norm(x)
    return torch.linalg.vector_norm(
        x, dim=tuple(range(1, x.ndim)), keepdim=True)


@torch.no_grad()
def adaptive_clip_grad_(params: Iterable[torch.Tensor],
                        clip_factor: float = 0.01,
                        eps: float = 1e-3) -> None:
    """Adaptive gradient clipping (`Brock et al. 2021
    <https://arxiv.org/abs/2102.06171>`_) in place.

    For every unit (output row of a weight; a 0-/1-D parameter is one unit)
    with gradient g and weight w: if ``|g| > clip_factor * max(|w|, eps)``,
    g is rescaled to that norm. All parameters given are clipped (as timm's
    ``adaptive_clip_grad``, which LeViT's training uses; the paper exempts
    the classifier, callers may leave it out of ``params``).

    Args:
        params (Iterable[Tensor]): Parameters with gradients.
        clip_factor (float): Largest gradient-to-weight norm ratio.
            Defaults to 0.01.
        eps (float): Floor of the weight norm, so that zero-initialised
            parameters can move. Defaults to 1e-3.
    """
    if clip_factor <= 0 or eps <= 0:
        raise ValueError(f'clip_factor ({clip_factor}) and eps ({eps}) '
                         'must be positive')
    for p in params:
        if p.grad is None:
            continue
        max_norm = _unitwise_norm(p).clamp_min(eps) * clip_factor
        grad_norm = _unitwise_norm(p.grad)
        factor = (max_norm / grad_norm.clamp_min(1e-6)).clamp_max(1.)
        p.grad.mul_(factor)


@torch.no_grad()
def clip_grad_norm_per_param_(params: Iterable[torch.Tensor],
                              max_norm: float) -> None:
    """Clip each parameter's gradient to L2 norm ``max_norm`` on its own,
    as DINO's ``clip_gradients`` (with the same ``1e-6`` in the
    denominator).

    Args:
        params (Iterable[Tensor]): Parameters with gradients.
        max_norm (float): Largest gradient norm of any one parameter.
    """
    if max_norm <= 0:
        raise ValueError(f'max_norm ({max_norm}) must be positive')
    for p in params:
        if p.grad is None:
            continue
        factor = max_norm / (p.grad.norm() + 1e-6)
        if factor < 1:
            p.grad.mul_(factor)


#: clip type -> (function, its arguments)
EXTRA_CLIP_MODES = {
    'agc': (adaptive_clip_grad_, ('clip_factor', 'eps')),
    'param_norm': (clip_grad_norm_per_param_, ('max_norm', )),
}
#: what mmengine's wrappers clip with themselves
MMENGINE_CLIP_MODES = ('norm', 'value')


class ExtraClipModesMixin:
    """Lets an mmengine optimizer wrapper take the clip types of
    :data:`EXTRA_CLIP_MODES` in ``clip_grad`` besides mmengine's own
    (``'norm'``, ``'value'``), with a clear error for anything else."""

    def __init__(self, *args, clip_grad: Optional[Dict] = None, **kwargs):
        clip_type = None
        if clip_grad is not None:
            clip_type = clip_grad.get('type', 'norm')
            valid = list(MMENGINE_CLIP_MODES) + list(EXTRA_CLIP_MODES)
            if clip_type not in valid:
                raise ValueError(f'Unknown clip_grad type {clip_type!r}; '
                                 f'choose from {valid}')
        if clip_type not in EXTRA_CLIP_MODES:
            super().__init__(*args, clip_grad=clip_grad, **kwargs)
            self._extra_clip = None
            return
        func, names = EXTRA_CLIP_MODES[clip_type]
        given = {k: v for k, v in clip_grad.items() if k != 'type'}
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f'clip_grad type {clip_type!r} takes '
                             f'{list(names)}, got unknown {unknown}')
        try:  # all arguments, defaults filled in (and required ones there)
            bound = inspect.signature(func).bind(None, **given)
        except TypeError as e:
            raise ValueError(f'clip_grad type {clip_type!r}: {e}') from None
        bound.apply_defaults()
        super().__init__(*args, clip_grad=None, **kwargs)
        self.clip_func = func
        self.grad_name = clip_type
        # non-empty, so that mmengine's step() clips (after unscaling)
        self.clip_grad_kwargs = {k: bound.arguments[k] for k in names}
        self._extra_clip = clip_type

    def _clip_grad(self) -> None:
        if self._extra_clip is None:
            return super()._clip_grad()
        params: List[torch.Tensor] = [
            p for group in self.optimizer.param_groups
            for p in group['params']
            if p.requires_grad and p.grad is not None
        ]
        self.clip_func(params, **self.clip_grad_kwargs)


@OPTIM_WRAPPERS.register_module()
class ClipOptimWrapper(ExtraClipModesMixin, OptimWrapper):
    """mmengine's ``OptimWrapper`` that also clips with ``type='agc'`` or
    ``type='param_norm'`` (see :mod:`mmvitplug.engine.optimizers.grad_clip`).
    ``tools/train.py --amp`` turns it into :class:`AmpClipOptimWrapper` on
    GPU and :class:`~mmvitplug.engine.BF16OptimWrapper` on CPU, keeping the
    clipping."""


@OPTIM_WRAPPERS.register_module()
class AmpClipOptimWrapper(ExtraClipModesMixin, AmpOptimWrapper):
    """mmengine's fp16 ``AmpOptimWrapper`` with the clip types of
    :class:`ClipOptimWrapper`; gradients are unscaled before clipping."""
