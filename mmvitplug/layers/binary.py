# Copyright (c) mmvitplug contributors.
"""Binary (1-bit) convolutions and the pieces around them.

The binary primitives of `BiMLP <https://arxiv.org/abs/2212.14158>`_ (Xu,
Chen, Wang, NeurIPS 2022; the official MindSpore evaluation code
``mindspore-ai/models:research/cv/BiMLP/src/quan_conv.py`` and
``bimlp.py``), themselves those of XNOR-Net and ReActNet:

- :func:`binarize_weight`: ``sign(W) * mean|W|``, one scale per output
  channel (the mean over the rest of the kernel), so that a binary layer
  holds exactly two values per output channel; the gradient passes
  straight through to ``W`` (the official ``XnorM`` backward), the scale
  gets none;
- :func:`binarize_activation`: ``sign(x)`` in ``{-1, +1}`` with the
  clipped-identity straight-through gradient ``1{|x| <= 1}``;
- :class:`BinaryConv2d`: a convolution of binarised inputs with binarised
  weights (``binary=False``: the plain full-precision convolution, for the
  full-precision twin of a binary network);
- :class:`LearnableBias` (ReActNet's ``RSign`` / ``move`` shift) and
  :class:`RPReLU` (shift, PReLU, shift);
- :func:`universal_shortcut`: BiMLP's shortcut between different widths
  (the input tiled along the channels when the output is a multiple of it,
  contiguous channel groups averaged when it is a divisor);
- :func:`count_ops` and :func:`param_bits`: binary operations (BOPs) and
  floating-point multiply-adds of a forward pass, and the model size in
  bits (1 bit a binary weight).

``sign(0)`` is ``+1`` everywhere here (``torch.sign`` gives 0), so that
weights and activations take exactly two values.
"""
from typing import Dict

import torch
import torch.nn as nn

__all__ = [
    'BinaryConv2d', 'LearnableBias', 'RPReLU', 'binarize_activation',
    'binarize_weight', 'count_ops', 'param_bits', 'sign_binary',
    'universal_shortcut'
]


def sign_binary(x: torch.Tensor) -> torch.Tensor:
    """``+1`` where ``x >= 0``, ``-1`` elsewhere (no gradient)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class _SignSTE(torch.autograd.Function):
    """:func:`sign_binary` forward, clipped identity backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return sign_binary(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def binarize_activation(x: torch.Tensor) -> torch.Tensor:
    """Binary activations: ``+1`` where ``x >= 0``, ``-1`` elsewhere;
    the straight-through gradient is the clipped identity (the gradient of
    ``clamp(x, -1, 1)``: 1 for ``|x| <= 1``, 0 outside).

    Args:
        x (torch.Tensor): Real activations, any shape.

    Returns:
        torch.Tensor: ``{-1, +1}``, the shape of ``x``.
    """
    return _SignSTE.apply(x)


def binarize_weight(weight: torch.Tensor) -> torch.Tensor:
    """XNOR-Net weights: ``sign(W) * alpha`` with ``alpha = mean|W|`` over
    everything but the output channel (dim 0), so exactly two values
    ``±alpha`` per output channel. The gradient reaches ``W`` unchanged
    (straight through the sign and the scale, as the official ``XnorM``
    backward); ``alpha`` gets none.

    Args:
        weight (torch.Tensor): Latent weights (out, ...).

    Returns:
        torch.Tensor: Binarised weights, the shape of ``weight``.
    """
    with torch.no_grad():
        scale = weight.abs().flatten(1).mean(dim=1)
        q = sign_binary(weight) * scale.view(-1, *[1] * (weight.dim() - 1))
    return q + (weight - weight.detach())  # exactly q; the gradient of W


class BinaryConv2d(nn.Conv2d):
    """``nn.Conv2d`` of binarised inputs (:func:`binarize_activation`) and
    binarised weights (:func:`binarize_weight`), the latent weights
    training (the official ``QuanConv`` with ``xnor`` weights).

    Args:
        *args: ``nn.Conv2d`` arguments.
        binary (bool): Binarise weights and inputs; False: the plain
            full-precision convolution (a full-precision twin with the same
            parameters). Defaults to True.
        **kwargs: ``nn.Conv2d`` keyword arguments (the official layers have
            no bias: ``bias=False``).
    """

    def __init__(self, *args, binary: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(binary, bool):
            raise TypeError(f'binary must be a bool, got {binary!r}')
        self.binary = binary

    def binary_weight(self) -> torch.Tensor:
        """The weights the convolution uses."""
        return binarize_weight(self.weight) if self.binary else self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.binary:
            x = binarize_activation(x)
        return self._conv_forward(x, self.binary_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', binary={self.binary}'


class LearnableBias(nn.Module):
    """``x + b``, one learnable shift per channel of NCHW maps (zeros at
    first).

    Args:
        channels (int): Channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


class RPReLU(nn.Module):
    """ReActNet's RPReLU: ``PReLU(x + b1) + b2``, a shift, a per-channel
    PReLU (slope ``init`` at first) and a shift, on NCHW maps.

    Args:
        channels (int): Channels.
        init (float): Initial negative slope. Defaults to 0.25 (the
            official value).
    """

    def __init__(self, channels: int, init: float = 0.25):
        super().__init__()
        self.move1 = LearnableBias(channels)
        self.prelu = nn.PReLU(channels, init=init)
        self.move2 = LearnableBias(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.move2(self.prelu(self.move1(x)))


def universal_shortcut(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """BiMLP's universal shortcut from ``C`` to ``out_channels`` channels.

    - ``out_channels == k C``: ``x`` tiled ``k`` times along the channels
      (output channel ``j`` is input channel ``j mod C``);
    - ``C == k out_channels``: the mean of each group of ``k`` contiguous
      channels (output channel ``j`` averages inputs ``jk .. jk + k - 1``);
    - equal: ``x`` itself.

    Args:
        x (torch.Tensor): NCHW maps.
        out_channels (int): Channels of the output.

    Returns:
        torch.Tensor: (N, out_channels, H, W).
    """
    channels = x.shape[1]
    if out_channels == channels:
        return x
    if out_channels > channels and out_channels % channels == 0:
        return x.repeat(1, out_channels // channels, 1, 1)
    if out_channels < channels and channels % out_channels == 0:
        n, _, h, w = x.shape
        k = channels // out_channels
        return x.reshape(n, out_channels, k, h, w).mean(dim=2)
    raise ValueError(
        f'universal_shortcut: one of {channels} input channels and '
        f'out_channels={out_channels} must be a multiple of the other')


def count_ops(model: nn.Module, *inputs) -> Dict[str, int]:
    """Binary and floating-point operations of one forward pass, per image.

    Every convolution and linear layer is counted by its multiply-adds
    (MACs): ``out_elements x in_channels / groups x kernel area`` (a
    linear layer: ``out_elements x in_features``). Those of a binary
    :class:`BinaryConv2d` are binary operations (BOPs: XNOR + popcount),
    the others floating-point (FLOPs, counted as MACs as in the papers).
    Element-wise operations (norms, shifts, activations, pooling) are not
    counted. The paper's total: ``OPs = BOPs / 64 + FLOPs``.

    Args:
        model (nn.Module): The model; run in its current mode, without
            gradients.
        *inputs: Its forward arguments; the first dimension of the first
            is the batch.

    Returns:
        dict: ``bops``, ``flops`` and ``ops`` (``bops / 64 + flops``) per
        image.
    """
    counts = dict(bops=0, flops=0)
    batch = inputs[0].shape[0]

    def hook(module, args, out):
        per_image = out.numel() // batch
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = per_image * module.in_channels // module.groups * kh * kw
        else:
            macs = per_image * module.in_features
        binary = isinstance(module, BinaryConv2d) and module.binary
        counts['bops' if binary else 'flops'] += macs

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    counts['ops'] = counts['bops'] / 64 + counts['flops']
    return counts


def param_bits(model: nn.Module) -> Dict[str, int]:
    """Storage of a model's parameters at inference, in bits.

    A binary :class:`BinaryConv2d` stores one bit per weight and one
    32-bit scale per output channel; every other parameter (and a
    non-binary layer's weights) 32 bits. Buffers (BN statistics, which fold
    into the affine at inference) are not counted.

    Args:
        model (nn.Module): The model.

    Returns:
        dict: ``bits`` in all, ``binary_params`` (weights stored in 1 bit),
        ``fp_params`` (parameters stored in 32 bits, the scales included).
    """
    binary, binary_ids, scales = 0, set(), 0
    for m in model.modules():
        if isinstance(m, BinaryConv2d) and m.binary:
            binary += m.weight.numel()
            binary_ids.add(id(m.weight))
            scales += m.out_channels
    fp = scales + sum(p.numel() for p in model.parameters()
                      if id(p) not in binary_ids)
    return dict(bits=binary + 32 * fp, binary_params=binary, fp_params=fp)
