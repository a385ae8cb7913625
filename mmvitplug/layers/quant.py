# Copyright (c) mmvitplug contributors.
"""Quantised convolutions, linear layers and activations.

The quantisers of `Arch-Net <https://arxiv.org/abs/2111.01135>`_ (the
official ``operators/dorefa``), DoReFa-style with straight-through
gradients:

- :func:`quantize_weight`: ``tanh``, then ``2 ** bits`` levels spread
  uniformly over ``±mean|tanh(W)|`` of the whole tensor (no zero level at an
  even number of levels: 2 bits give ``s * {-1/2, -1/6, 1/6, 1/2}``, ``s =
  2 * mean|tanh(W)|``); the gradient passes the clipping, the rounding and
  the scale unchanged (the scale gets none), then the ``tanh``;
- :func:`quantize_weight_rowwise`: per output row, ``tanh`` centred on the
  row mean, ``2 ** bits`` levels over ``±max|.|`` of the row; gradients
  reach the mean and the scale (Arch-Net's 8-bit classifier);
- :func:`quantize_activation`: ``clamp(scale * x, 0, 1)`` rounded to
  ``2 ** bits`` levels of ``[0, 1]`` (a fixed clip at ``1 / scale``; the
  output stays in ``[0, 1]``), gradient straight through the rounding and
  zero outside the clip.

Every rounding is half up (``floor(x + 0.5)``), as officially (``torch.round``
rounds half to even). ``bits=None`` turns a quantiser off: the layers are
then their full-precision counterparts (:class:`ActQuant` the identity), e.g.
for a 32-bit Arch-Net student.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'ActQuant', 'QuantConv2d', 'QuantLinear', 'check_bits',
    'quantize_activation', 'quantize_weight', 'quantize_weight_rowwise',
    'round_ste'
]

#: Largest bit width accepted (levels are computed in float32).
MAX_BITS = 16


def check_bits(bits: Optional[int], what: str) -> Optional[int]:
    """``bits`` if it is None (full precision) or an int in
    ``[1, MAX_BITS]``; a ValueError naming ``what`` otherwise."""
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, int) or \
            not 1 <= bits <= MAX_BITS:
        raise ValueError(f'{what} must be an int in [1, {MAX_BITS}] or None '
                         f'(full precision), got {bits!r}')
    return bits


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` forward (round half up), identity backward."""
    # q + (x - x) is exactly q: the levels stay exact in the forward pass
    return torch.floor(x + 0.5).detach() + (x - x.detach())


def quantize_weight(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Arch-Net's tensor-wise weight quantiser (see the module docstring).

    Args:
        weight (torch.Tensor): Latent full-precision weights, any shape.
        bits (int): Bit width: ``2 ** bits`` levels.

    Returns:
        torch.Tensor: Quantised weights, the shape of ``weight``; their
        gradient is that of ``tanh(weight)`` (straight through the rest).
    """
    levels = 2**bits - 1
    w = torch.tanh(weight)
    with torch.no_grad():
        scale = (2 * w.abs().mean()).clamp_min(torch.finfo(w.dtype).tiny)
        x = torch.clamp(w / scale, -0.5, 0.5) + 0.5
        q = (torch.floor(x * levels + 0.5) / levels - 0.5) * scale
    return q + (w - w.detach())  # exactly q; the gradient of w


def quantize_weight_rowwise(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Arch-Net's per-row weight quantiser of its classifier.

    ``w = tanh(W) - row mean``; ``s = 2 max|w|`` per row; ``Wq = (q / M -
    0.5) s`` with ``q = round_ste((w / s + 0.5) M)``, ``M = 2 ** bits - 1``.
    Gradients reach the row means and scales (only the rounding is straight
    through).

    Args:
        weight (torch.Tensor): Latent weights (out, ...), rows along dim 0.
        bits (int): Bit width.

    Returns:
        torch.Tensor: Quantised weights, the shape of ``weight``.
    """
    levels = 2**bits - 1
    w = torch.tanh(weight).flatten(1)
    w = w - w.mean(dim=1, keepdim=True)
    scale = 2 * w.abs().amax(dim=1, keepdim=True)
    scale = scale.clamp_min(torch.finfo(w.dtype).tiny)
    q = round_ste((w / scale + 0.5) * levels)
    return ((q / levels - 0.5) * scale).view_as(weight)


def quantize_activation(x: torch.Tensor,
                        bits: int,
                        scale: float = 0.1) -> torch.Tensor:
    """``round_ste(clamp(scale x, 0, 1) M) / M``, ``M = 2 ** bits - 1``.

    Args:
        x (torch.Tensor): Activations (after BN and ReLU in Arch-Net).
        bits (int): Bit width.
        scale (float): Fixed input multiplier (Arch-Net's 0.1: values clip
            at 10). Defaults to 0.1.

    Returns:
        torch.Tensor: ``2 ** bits`` levels in ``[0, 1]``.
    """
    levels = 2**bits - 1
    return round_ste(torch.clamp(x * scale, 0, 1) * levels) / levels


class QuantConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weights pass :func:`quantize_weight` in every
    forward (the latent weights train); the bias, if any, stays full
    precision.

    Args:
        *args: ``nn.Conv2d`` arguments.
        w_bits (int, optional): Weight bit width; None: a plain convolution.
            Defaults to 2.
        **kwargs: ``nn.Conv2d`` keyword arguments.
    """

    def __init__(self, *args, w_bits: Optional[int] = 2, **kwargs):
        super().__init__(*args, **kwargs)
        self.w_bits = check_bits(w_bits, 'w_bits')

    def quantized_weight(self) -> torch.Tensor:
        """The weights the convolution uses."""
        if self.w_bits is None:
            return self.weight
        return quantize_weight(self.weight, self.w_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', w_bits={self.w_bits}'


class QuantLinear(nn.Linear):
    """``nn.Linear`` with quantised weights, full-precision bias.

    Args:
        in_features (int): Input features.
        out_features (int): Output features.
        bias (bool): With a bias. Defaults to True.
        w_bits (int, optional): Weight bit width; None: a plain linear
            layer. Defaults to 8.
        rowwise (bool): :func:`quantize_weight_rowwise` (Arch-Net's
            classifier) or the tensor-wise :func:`quantize_weight`.
            Defaults to True.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 w_bits: Optional[int] = 8,
                 rowwise: bool = True):
        super().__init__(in_features, out_features, bias)
        self.w_bits = check_bits(w_bits, 'w_bits')
        self.rowwise = bool(rowwise)

    def quantized_weight(self) -> torch.Tensor:
        """The weights the layer uses."""
        if self.w_bits is None:
            return self.weight
        quantize = quantize_weight_rowwise if self.rowwise else \
            quantize_weight
        return quantize(self.weight, self.w_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + \
            f', w_bits={self.w_bits}, rowwise={self.rowwise}'


class ActQuant(nn.Module):
    """:func:`quantize_activation` as a module; the identity when ``bits``
    is None.

    Args:
        bits (int, optional): Bit width; None: full precision (identity).
            Defaults to 4.
        scale (float): Fixed input multiplier (> 0). Defaults to 0.1.
    """

    def __init__(self, bits: Optional[int] = 4, scale: float = 0.1):
        super().__init__()
        self.bits = check_bits(bits, 'a_bits')
        if not scale > 0:
            raise ValueError(f'the activation scale must be > 0, got {scale}')
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits is None:
            return x
        return quantize_activation(x, self.bits, self.scale)

    def extra_repr(self) -> str:
        return f'bits={self.bits}, scale={self.scale}'
