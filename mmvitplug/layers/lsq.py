# Copyright (c) mmvitplug contributors.
"""Learned step size quantisation (LSQ) of weights and activations.

`Esser et al. 2020, "Learned Step Size Quantization"
<https://arxiv.org/abs/1902.08153>`_, as the Transformer student of `Arch-Net
<https://arxiv.org/abs/2111.01135>`_ uses it (the official
``operators/lsq``): a tensor is quantised to the integers ``[Qn, Qp]``
times a learned step ``alpha`` (one per tensor)::

    q(x) = round(clamp(x / a, Qn, Qp)) * a,   a = alpha (gradient x g)

signed: ``Qn = -2^(b-1)``, ``Qp = 2^(b-1) - 1``; unsigned: ``[0, 2^b - 1]``.
The rounding is straight through (:func:`round_pass`, ``torch.round``:
half to even, as officially), so ``x`` gets the gradient 1 inside the clip
and 0 outside, and ``alpha`` the LSQ gradient ``round(x/a) - x/a`` inside
(``Qn`` / ``Qp`` outside), scaled by ``g = 1 / sqrt(numel(x) Qp)``
(:func:`grad_scale`; ``numel`` of the whole tensor, the batch included for
activations, as officially).

``alpha`` is initialised from the data on the first forward in training
mode to ``2 mean|x| / sqrt(Qp)`` and marked so by the ``init_state`` buffer
(saved with the model; a loaded checkpoint keeps its steps); under
distributed training the ranks average their values, so that every replica
starts from the same step. Before that, a forward in eval mode quantises
with the value the initialisation would give on its input without storing
it (the official code uses the uninitialised parameter). Weights are always
signed; ``bits=None`` turns a quantiser off (full precision).
"""
import math
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .quant import check_bits

__all__ = [
    'LSQConv2d', 'LSQLinear', 'LSQQuantizer', 'grad_scale', 'lsq_quantize',
    'round_pass'
]


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` forward (exactly), ``scale`` times its gradient backward."""
    y = x * scale
    return x.detach() + (y - y.detach())


def round_pass(x: torch.Tensor) -> torch.Tensor:
    """``torch.round(x)`` forward (half to even), identity backward."""
    return torch.round(x).detach() + (x - x.detach())


def lsq_quantize(x: torch.Tensor, alpha: torch.Tensor, qn: int,
                 qp: int) -> torch.Tensor:
    """``round_pass(clamp(x / a, qn, qp)) * a`` with ``a = alpha`` whose
    gradient is scaled by ``1 / sqrt(numel(x) qp)``.

    Args:
        x (torch.Tensor): Values to quantise, any shape.
        alpha (torch.Tensor): The step (a scalar tensor, > 0).
        qn (int): Lowest integer level.
        qp (int): Highest integer level (> 0).

    Returns:
        torch.Tensor: Multiples of ``alpha`` in ``[qn alpha, qp alpha]``, the
        shape of ``x``.
    """
    a = grad_scale(alpha, 1.0 / math.sqrt(x.numel() * qp))
    return round_pass(torch.clamp(x / a, qn, qp)) * a


class LSQQuantizer(nn.Module):
    """LSQ quantiser of one tensor (see the module docstring): the
    activation quantiser (``ActLSQ`` officially) and, signed, that of the
    weights of :class:`LSQLinear` / :class:`LSQConv2d`.

    Args:
        bits (int, optional): Bit width; None: the identity. Defaults to 4.
        signed (bool): Integer levels ``[-2^(b-1), 2^(b-1) - 1]`` (for
            values of both signs) or ``[0, 2^b - 1]`` (for non-negative
            values: negative values become 0, a quantised ReLU).
            Defaults to False.
    """

    def __init__(self, bits: Optional[int] = 4, signed: bool = False):
        super().__init__()
        self.bits = check_bits(bits, 'bits')
        self.signed = bool(signed)
        if self.bits is None:
            self.alpha = self.init_state = None
            return
        if self.signed and self.bits < 2:
            raise ValueError('a signed LSQ quantiser needs bits >= 2 (1 bit '
                             'leaves the levels {-1, 0}), got 1')
        self.alpha = nn.Parameter(torch.ones(()))
        self.register_buffer('init_state', torch.zeros((), dtype=torch.uint8))

    @property
    def levels(self):
        """``(Qn, Qp)``, the lowest and highest integer levels."""
        if self.signed:
            return -2**(self.bits - 1), 2**(self.bits - 1) - 1
        return 0, 2**self.bits - 1

    @property
    def initialised(self) -> bool:
        """Whether ``alpha`` holds a step (set from data or loaded)."""
        return self.init_state is not None and bool(self.init_state)

    def _data_step(self, x: torch.Tensor) -> torch.Tensor:
        """``2 mean|x| / sqrt(Qp)`` (float32)."""
        return 2 * x.detach().abs().mean().float() / math.sqrt(self.levels[1])

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> None:
        """Set ``alpha`` from ``x`` (the mean over the ranks under
        distributed training) and mark it initialised."""
        step = self._data_step(x)
        if dist.is_available() and dist.is_initialized() and \
                dist.get_world_size() > 1:
            dist.all_reduce(step)
            step /= dist.get_world_size()
        self.alpha.copy_(step)
        self.init_state.fill_(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits is None:
            return x
        if not self.initialised:
            if self.training:
                self.initialise(x)
            else:  # not stored: training will initialise from its data
                alpha = self._data_step(x).to(x.dtype)
                return lsq_quantize(x, alpha, *self.levels)
        return lsq_quantize(x, self.alpha.to(x.dtype), *self.levels)

    def extra_repr(self) -> str:
        return f'bits={self.bits}, signed={self.signed}'


class LSQLinear(nn.Linear):
    """``nn.Linear`` whose weights pass a signed :class:`LSQQuantizer`
    (``weight_quant``, its step learned) in every forward; the bias stays
    full precision (the official ``LinearLSQ``).

    Args:
        in_features (int): Input features.
        out_features (int): Output features.
        bias (bool): With a bias. Defaults to True.
        w_bits (int, optional): Weight bit width; None: a plain linear
            layer. Defaults to 2.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 w_bits: Optional[int] = 2):
        super().__init__(in_features, out_features, bias)
        self.weight_quant = LSQQuantizer(w_bits, signed=True)

    @property
    def w_bits(self) -> Optional[int]:
        return self.weight_quant.bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight_quant(self.weight), self.bias)


class LSQConv2d(nn.Conv2d):
    """``nn.Conv2d`` with LSQ weights (one step per tensor), full-precision
    bias (the official ``Conv2dLSQ`` in its ``layer_wise`` mode; its
    ``kernel_wise`` step broadcasts over the wrong axis and is not
    reproduced).

    Args:
        *args: ``nn.Conv2d`` arguments.
        w_bits (int, optional): Weight bit width; None: a plain convolution.
            Defaults to 2.
        **kwargs: ``nn.Conv2d`` keyword arguments.
    """

    def __init__(self, *args, w_bits: Optional[int] = 2, **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_quant = LSQQuantizer(w_bits, signed=True)

    @property
    def w_bits(self) -> Optional[int]:
        return self.weight_quant.bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight_quant(self.weight),
                                  self.bias)
