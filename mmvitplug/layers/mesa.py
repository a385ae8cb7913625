# Copyright (c) mmvitplug contributors.
"""Mesa: exact forward, 8-bit storage of the tensors saved for backward.

`Mesa (Pan et al. 2021) <https://arxiv.org/abs/2111.11124>`_, official code
`zhuang-group/Mesa <https://github.com/zhuang-group/Mesa>`_: every wrapped
operation computes its forward in full precision, but the activation it
keeps for backward is stored as 8-bit codes and dequantised when the
gradient is computed. Per group of channels (or of heads for attention
tensors) a running range :math:`\\alpha` and offset :math:`\\beta` (the
official ``clip_val`` / ``shift``) track the tensor's ``max - min`` and
``min`` with an exponential moving average (decay :math:`\\lambda = 0.9`;
the first update sets them directly); the codes are stochastically rounded::

    q = clamp(round((x - beta) * 255 / alpha + u - 0.5), 0, 255)  # uint8
    x_hat = q * alpha / 255 + beta,       u ~ U[0, 1)

Pure PyTorch (CPU and CUDA): the codes are ``torch.uint8`` tensors saved
with ``ctx.save_for_backward`` (so
:func:`torch.autograd.graph.saved_tensors_hooks`, and
:func:`count_saved_bytes`, see them), and the backward passes call the
ATen backward kernels on the dequantised tensors. Deviations from the
official CUDA extension, each deliberate:

- codes are clamped to [0, 255] before the uint8 store: the official
  kernel clamps below only, so values above the running range overflow
  (wrap around);
- the running range / offset are non-persistent buffers (no
  ``nn.Parameter`` iteration counter): a converted model has exactly the
  state-dict keys and the parameters of the original one, checkpoints are
  interchangeable, and a resumed run re-estimates the ranges on its first
  batch as a new run does;
- the range / offset used to quantise a tensor are saved with its codes,
  so a module called again before backward does not change how earlier
  codes are decoded (the official code decodes with the current values);
- the softmax stores its output only (its backward needs nothing else;
  the official one also stores its input), and ReLU stores a 1-bit mask
  (as the official ``keep_tensor=False``, packed here in pure torch);
- Mesa is active only in training mode with gradients enabled; otherwise
  the modules are exactly the ones they replace.

:func:`convert_to_mesa` converts a model in place (same parameter
objects, same state-dict keys); ``mmvitplug.MesaHook`` does it from a
config.
"""
import contextlib
import fnmatch
import math
from typing import Dict, Iterable, Iterator, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, attend, attend_explicit, check_qkv

#: number of quantisation levels (8-bit codes)
LEVELS = 256
#: the operations :func:`convert_to_mesa` can wrap (policy key ``ops``)
MESA_OPS = ('linear', 'conv', 'gelu', 'relu', 'layernorm', 'batchnorm',
            'softmax', 'matmul')
#: the keys of a Mesa policy (see :func:`convert_to_mesa`)
POLICY_KEYS = ('ops', 'num_groups', 'ema_decay', 'skip')
# smallest range used to scale codes (a constant group has range 0)
_MIN_RANGE = 1e-8


def _group_view(x: torch.Tensor, num_groups: int,
                group_dim: int) -> torch.Tensor:
    """View ``x`` as (outer, num_groups, inner): group ``g`` holds the
    ``g``-th of ``num_groups`` equal slices of dimension ``group_dim``
    (the official ``pack_group`` layout, without its copy)."""
    dim = group_dim % x.ndim
    channels = x.shape[dim]
    if channels % num_groups != 0:
        raise ValueError(
            f'Mesa: dimension {group_dim} of the tensor of shape '
            f'{tuple(x.shape)} has {channels} entries, not divisible by '
            f'num_groups={num_groups}; choose num_groups dividing it')
    return x.reshape(math.prod(x.shape[:dim]), num_groups, -1)


def quantize(x: torch.Tensor,
             clip_val: torch.Tensor,
             shift: torch.Tensor,
             group_dim: int = -1,
             noise: Optional[Union[float, torch.Tensor]] = None
             ) -> torch.Tensor:
    """8-bit codes of ``x`` with per-group range ``clip_val`` and offset
    ``shift``: ``clamp(round((x - shift) * 255 / |clip_val| + u - 0.5), 0,
    255)`` as ``torch.uint8``.

    Args:
        x (torch.Tensor): Floating tensor.
        clip_val (torch.Tensor): Ranges :math:`\\alpha`, shape (G,), G
            dividing ``x.shape[group_dim]``.
        shift (torch.Tensor): Offsets :math:`\\beta`, shape (G,).
        group_dim (int): Dimension split into the G groups. Defaults to -1.
        noise (float | torch.Tensor, optional): The rounding noise ``u``;
            None draws it from U[0, 1) (stochastic rounding), 0.5 rounds to
            nearest. Defaults to None.

    Returns:
        torch.Tensor: Codes, ``torch.uint8``, of ``x``'s shape.
    """
    view = _group_view(x, clip_val.numel(), group_dim).float()
    scale = (LEVELS - 1) / clip_val.float().abs().clamp_min(_MIN_RANGE)
    v = (view - shift.float()[:, None]) * scale[:, None]
    if noise is None:
        v.add_(torch.rand_like(v))
    else:
        v.add_(noise)
    v.sub_(0.5).round_().clamp_(0, LEVELS - 1)
    return v.to(torch.uint8).reshape(x.shape)


def dequantize(codes: torch.Tensor,
               clip_val: torch.Tensor,
               shift: torch.Tensor,
               group_dim: int = -1,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Inverse of :func:`quantize`: ``codes * |clip_val| / 255 + shift``.

    Args:
        codes (torch.Tensor): ``torch.uint8`` codes.
        clip_val (torch.Tensor): Ranges, shape (G,).
        shift (torch.Tensor): Offsets, shape (G,).
        group_dim (int): Dimension split into the G groups. Defaults to -1.
        dtype (torch.dtype): Output dtype. Defaults to ``torch.float32``.

    Returns:
        torch.Tensor: The decoded tensor, of ``codes``' shape.
    """
    view = _group_view(codes, clip_val.numel(), group_dim).float()
    step = clip_val.float().abs().clamp_min(_MIN_RANGE) / (LEVELS - 1)
    x = view * step[:, None] + shift.float()[:, None]
    return x.reshape(codes.shape).to(dtype)


class MesaQuantizer(nn.Module):
    """Running per-group range and offset of one saved tensor, and its
    8-bit codes.

    Buffers (non-persistent: not in the state dict): ``clip_val``
    (:math:`\\alpha`, shape (G,), init 1), ``shift`` (:math:`\\beta`, init
    0) and ``num_updates``. Each :meth:`update` in training computes the
    group-wise ``max - min`` and ``min`` of the tensor and, except on the
    first update which copies them, moves the buffers towards them:
    ``alpha <- alpha - (1 - ema_decay) * (alpha - range)`` (official
    ``update_clip_val_shift``).

    Args:
        num_groups (int): Number of groups G. Defaults to 1.
        ema_decay (float): EMA decay :math:`\\lambda` in [0, 1).
            Defaults to 0.9.
        group_dim (int): Dimension of the quantised tensors split into the
            G groups (-1: channels of tokens, 1: channels of feature maps
            or heads of attention tensors). Defaults to -1.
    """

    def __init__(self,
                 num_groups: int = 1,
                 ema_decay: float = 0.9,
                 group_dim: int = -1):
        super().__init__()
        _check_num_groups(num_groups)
        _check_ema_decay(ema_decay)
        if not isinstance(group_dim, int):
            raise TypeError(f'group_dim must be an int, got {group_dim!r}')
        self.num_groups = num_groups
        self.ema_decay = float(ema_decay)
        self.group_dim = group_dim
        self.register_buffer(
            'clip_val', torch.ones(num_groups), persistent=False)
        self.register_buffer(
            'shift', torch.zeros(num_groups), persistent=False)
        self.register_buffer(
            'num_updates', torch.zeros((), dtype=torch.long),
            persistent=False)

    def extra_repr(self) -> str:
        return (f'num_groups={self.num_groups}, ema_decay={self.ema_decay}, '
                f'group_dim={self.group_dim}')

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Update the running range and offset with ``x`` (branch-free: no
        host synchronisation)."""
        view = _group_view(x.detach(), self.num_groups, self.group_dim)
        low = view.amin(dim=(0, 2)).float()
        span = view.amax(dim=(0, 2)).float() - low
        first = self.num_updates == 0
        rate = 1. - self.ema_decay
        self.clip_val.copy_(
            torch.where(first, span,
                        self.clip_val - rate * (self.clip_val - span)))
        self.shift.copy_(
            torch.where(first, low, self.shift - rate * (self.shift - low)))
        self.num_updates.add_(1)

    def pack(self, x: torch.Tensor) -> tuple:
        """Update the statistics with ``x`` then quantise it.

        Returns:
            tuple[torch.Tensor]: Codes (uint8, ``x``'s shape), and copies of
            the range and offset they were made with.
        """
        self.update(x)
        clip_val, shift = self.clip_val.clone(), self.shift.clone()
        return quantize(x, clip_val, shift, self.group_dim), clip_val, shift

    def unpack(self, codes: torch.Tensor, clip_val: torch.Tensor,
               shift: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Decode :meth:`pack`'s output."""
        return dequantize(codes, clip_val, shift, self.group_dim, dtype)


def _check_num_groups(num_groups) -> None:
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) \
            or num_groups < 1:
        raise ValueError(
            f'num_groups must be a positive int, got {num_groups!r}')


def _check_ema_decay(ema_decay) -> None:
    if isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) \
            or not 0. <= ema_decay < 1.:
        raise ValueError(f'ema_decay must be in [0, 1), got {ema_decay!r}')


def mesa_active(module: nn.Module) -> bool:
    """Whether a Mesa module quantises: in training mode with gradients
    enabled (otherwise it runs the plain operation)."""
    return module.training and torch.is_grad_enabled()


# ---------------------------------------------------------------------------
# autograd Functions: exact forward, 8-bit saved tensors
# ---------------------------------------------------------------------------


def _save(ctx, quantizer: MesaQuantizer, x: Optional[torch.Tensor],
          *others: Optional[torch.Tensor]) -> None:
    """Save the codes of ``x`` (when not None) and ``others`` as they are."""
    ctx.quantizer = quantizer
    ctx.x_dtype = None if x is None else x.dtype
    packed = (None, None, None) if x is None else quantizer.pack(x)
    ctx.save_for_backward(*packed, *others)


def _load(ctx) -> tuple:
    """The decoded tensor (None if not saved) and the other saved ones."""
    codes, clip_val, shift, *others = ctx.saved_tensors
    x = None if codes is None else ctx.quantizer.unpack(
        codes, clip_val, shift, ctx.x_dtype)
    return (x, *others)


class MesaLinearFunction(torch.autograd.Function):
    """``F.linear`` saving the 8-bit codes of its input (needed for the
    weight gradient only)."""

    @staticmethod
    def forward(ctx, x, weight, bias, quantizer):
        _save(ctx, quantizer, x if ctx.needs_input_grad[1] else None, weight)
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = _load(ctx)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out.matmul(weight.to(grad_out.dtype))
        flat = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_w = flat.t().matmul(
                x.reshape(-1, x.shape[-1]).to(grad_out.dtype))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat.sum(0)
        return grad_x, grad_w, grad_b, None


class MesaConv2dFunction(torch.autograd.Function):
    """``F.conv2d`` (zero padding) saving the 8-bit codes of its input
    (needed for the weight gradient only)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups,
                quantizer):
        _save(ctx, quantizer, x if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape = x.shape
        ctx.conv = (stride, padding, dilation, groups)
        ctx.bias_shape = None if bias is None else list(bias.shape)
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = _load(ctx)
        stride, padding, dilation, groups = ctx.conv
        if x is None:  # the weight gradient is not needed: any input works
            x = grad_out.new_zeros(()).expand(ctx.x_shape)
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1],
                ctx.bias_shape is not None and ctx.needs_input_grad[2]]
        grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
            grad_out, x.to(grad_out.dtype), weight.to(grad_out.dtype),
            ctx.bias_shape, list(stride), list(padding), list(dilation),
            False, [0, 0], groups, mask)
        return grad_x, grad_w, grad_b, None, None, None, None, None


class MesaGELUFunction(torch.autograd.Function):
    """``F.gelu`` saving the 8-bit codes of its input."""

    @staticmethod
    def forward(ctx, x, approximate, quantizer):
        _save(ctx, quantizer, x)
        ctx.approximate = approximate
        return F.gelu(x, approximate=approximate)

    @staticmethod
    def backward(ctx, grad_out):
        x, = _load(ctx)
        grad_x = torch.ops.aten.gelu_backward(
            grad_out, x.to(grad_out.dtype), approximate=ctx.approximate)
        return grad_x, None, None


class MesaSoftmaxFunction(torch.autograd.Function):
    """``softmax`` saving the 8-bit codes of its output (all its backward
    needs)."""

    @staticmethod
    def forward(ctx, x, dim, quantizer):
        y = torch.softmax(x, dim)
        _save(ctx, quantizer, y)
        ctx.dim = dim
        # the dtype softmax ran in: CUDA autocast runs it in float32 on a
        # half / bfloat16 input (autograd casts the gradient back to x's)
        ctx.in_dtype = y.dtype
        return y

    @staticmethod
    def backward(ctx, grad_out):
        y, = _load(ctx)
        grad_x = torch.ops.aten._softmax_backward_data(
            grad_out, y.to(grad_out.dtype), ctx.dim, ctx.in_dtype)
        return grad_x, None, None


class MesaMatMulFunction(torch.autograd.Function):
    """``a @ b`` saving the 8-bit codes of each operand that the other's
    gradient needs."""

    @staticmethod
    def forward(ctx, a, b, quantizer_a, quantizer_b):
        ctx.quantizer_a, ctx.quantizer_b = quantizer_a, quantizer_b
        ctx.dtypes = a.dtype, b.dtype
        saved = []
        for x, q, needed in ((a, quantizer_a, ctx.needs_input_grad[1]),
                             (b, quantizer_b, ctx.needs_input_grad[0])):
            saved.extend(q.pack(x) if needed else (None, None, None))
        ctx.save_for_backward(*saved)
        return torch.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_out):
        ca, ra, sa, cb, rb, sb = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            b = ctx.quantizer_b.unpack(cb, rb, sb, grad_out.dtype)
            grad_a = grad_out.matmul(b.transpose(-2, -1))
        if ctx.needs_input_grad[1]:
            a = ctx.quantizer_a.unpack(ca, ra, sa, grad_out.dtype)
            grad_b = a.transpose(-2, -1).matmul(grad_out)
        return grad_a, grad_b, None, None


class MesaLayerNormFunction(torch.autograd.Function):
    """``F.layer_norm`` saving the 8-bit codes of its normalised input
    ``(x - mean) * rstd`` and the exact per-row mean and reciprocal std
    (one value per row).

    The official code stores the codes of ``x`` itself; the backward then
    multiplies their error by ``rstd``, which is large for rows of small
    variance (e.g. a class token at initialisation): the normalised input
    has the same scale in every row.
    """

    @staticmethod
    def forward(ctx, x, normalized_shape, weight, bias, eps, quantizer):
        y, mean, rstd = torch.ops.aten.native_layer_norm(
            x, list(normalized_shape), weight, bias, eps)
        _save(ctx, quantizer, (x - mean) * rstd, mean, rstd, weight, bias)
        ctx.x_dtype = x.dtype
        ctx.normalized_shape = list(normalized_shape)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x_norm, mean, rstd, weight, bias = _load(ctx)
        mask = [ctx.needs_input_grad[0],
                weight is not None and ctx.needs_input_grad[2],
                bias is not None and ctx.needs_input_grad[3]]
        # the input whose normalisation is the decoded x_norm
        x = (x_norm / rstd + mean).to(grad_out.dtype)
        grad_x, grad_w, grad_b = torch.ops.aten.native_layer_norm_backward(
            grad_out.contiguous(), x, ctx.normalized_shape, mean, rstd,
            weight, bias, mask)
        return grad_x, None, grad_w, grad_b, None, None


class MesaBatchNormFunction(torch.autograd.Function):
    """Training-mode batch norm (batch statistics; running statistics
    updated in place) saving the 8-bit codes of its normalised input and
    the exact per-channel mean and inverse std (see
    :class:`MesaLayerNormFunction` for why the normalised input)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum,
                eps, quantizer):
        y, mean, invstd = torch.ops.aten.native_batch_norm(
            x, weight, bias, running_mean, running_var, True, momentum, eps)
        shape = (1, -1) + (1, ) * (x.ndim - 2)
        x_norm = (x - mean.view(shape)) * invstd.view(shape)
        _save(ctx, quantizer, x_norm, weight, mean, invstd)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x_norm, weight, mean, invstd = _load(ctx)
        shape = (1, -1) + (1, ) * (x_norm.ndim - 2)
        x = x_norm / invstd.view(shape) + mean.view(shape)
        mask = [ctx.needs_input_grad[0],
                weight is not None and ctx.needs_input_grad[1],
                weight is not None and ctx.needs_input_grad[2]]
        grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
            grad_out.contiguous(), x.to(grad_out.dtype), weight, None, None,
            mean, invstd, True, ctx.eps, mask)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def packbits(mask: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor into ``torch.uint8``, 8 entries a byte (flattened,
    zero-padded)."""
    flat = mask.reshape(-1)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8,
                           device=mask.device)
    return (flat.view(-1, 8).to(torch.uint8) * weights).sum(
        1, dtype=torch.uint8)


def unpackbits(packed: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Inverse of :func:`packbits`."""
    weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8,
                           device=packed.device)
    bits = (packed[:, None] & weights) != 0
    return bits.reshape(-1)[:math.prod(shape)].reshape(shape)


class MesaReLUFunction(torch.autograd.Function):
    """``F.relu`` saving a 1-bit mask of the positive inputs."""

    @staticmethod
    def forward(ctx, x):
        positive = x > 0
        ctx.save_for_backward(packbits(positive))
        ctx.x_shape = x.shape
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_out):
        packed, = ctx.saved_tensors
        return grad_out * unpackbits(packed, ctx.x_shape)


# ---------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------


def _adopt(cls, module: nn.Module, **quantizers: MesaQuantizer):
    """An instance of ``cls`` (a subclass of ``type(module)``) holding
    ``module``'s parameters, buffers, children, hooks and attributes (the
    same objects), plus the given quantiser children."""
    new = cls.__new__(cls)
    new.__dict__.update({
        k: v.copy() if isinstance(v, (dict, set)) else v
        for k, v in module.__dict__.items()
    })
    tensor = next(iter(module.parameters()), None)
    for name, quantizer in quantizers.items():
        if tensor is not None:
            quantizer.to(tensor.device)
        setattr(new, name, quantizer)
    return new


class MesaLinear(nn.Linear):
    """:class:`torch.nn.Linear` storing its input in 8 bits for backward.

    Args:
        in_features (int): Input features, divisible by ``num_groups``.
        out_features (int): Output features.
        bias (bool): Learn a bias. Defaults to True.
        num_groups (int): Quantisation groups of the input's channels.
            Defaults to 1.
        ema_decay (float): EMA decay of the running range / offset.
            Defaults to 0.9.
    """

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True, num_groups: int = 1,
                 ema_decay: float = 0.9, **kwargs):
        super().__init__(in_features, out_features, bias, **kwargs)
        _check_divides(num_groups, in_features, 'in_features')
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, -1)

    @classmethod
    def from_module(cls, module: nn.Linear, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaLinear':
        """Convert ``module`` (same parameter objects)."""
        _check_divides(num_groups, module.in_features, 'in_features')
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaLinearFunction.apply(x, self.weight, self.bias,
                                            self.mesa_quant)
        return F.linear(x, self.weight, self.bias)


class MesaConv2d(nn.Conv2d):
    """:class:`torch.nn.Conv2d` (zero, integer padding) storing its input
    in 8 bits for backward.

    Args:
        in_channels (int): Input channels, divisible by ``num_groups``.
        out_channels (int): Output channels.
        kernel_size (int | tuple): Kernel size.
        num_groups (int): Quantisation groups of the input's channels.
            Defaults to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
        **kwargs: The other arguments of :class:`torch.nn.Conv2d`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size,
                 num_groups: int = 1, ema_decay: float = 0.9, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        _check_conv(self)
        _check_divides(num_groups, in_channels, 'in_channels')
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, 1)

    @classmethod
    def from_module(cls, module: nn.Conv2d, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaConv2d':
        """Convert ``module`` (same parameter objects)."""
        _check_conv(module)
        _check_divides(num_groups, module.in_channels, 'in_channels')
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaConv2dFunction.apply(x, self.weight, self.bias,
                                            self.stride, self.padding,
                                            self.dilation, self.groups,
                                            self.mesa_quant)
        return super().forward(x)


class MesaGELU(nn.GELU):
    """:class:`torch.nn.GELU` storing its input in 8 bits for backward;
    the input's last dimension must be divisible by ``num_groups``.

    Args:
        approximate (str): 'none' or 'tanh'. Defaults to 'none'.
        num_groups (int): Quantisation groups of the last dimension.
            Defaults to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
    """

    def __init__(self, approximate: str = 'none', num_groups: int = 1,
                 ema_decay: float = 0.9):
        super().__init__(approximate)
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, -1)

    @classmethod
    def from_module(cls, module: nn.GELU, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaGELU':
        """Convert ``module``."""
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaGELUFunction.apply(x, self.approximate,
                                          self.mesa_quant)
        return super().forward(x)


class MesaReLU(nn.ReLU):
    """:class:`torch.nn.ReLU` storing a 1-bit mask for backward (always
    out of place when Mesa is active)."""

    @classmethod
    def from_module(cls, module: nn.ReLU) -> 'MesaReLU':
        """Convert ``module``."""
        return _adopt(cls, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaReLUFunction.apply(x)
        return super().forward(x)


class MesaSoftmax(nn.Softmax):
    """:class:`torch.nn.Softmax` storing its output in 8 bits for
    backward, grouped along dimension 1 (the heads of attention weights
    (B, H, Nq, Nk)).

    Args:
        dim (int): Softmax dimension. Defaults to -1.
        num_groups (int): Quantisation groups of dimension 1. Defaults
            to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
    """

    def __init__(self, dim: int = -1, num_groups: int = 1,
                 ema_decay: float = 0.9):
        super().__init__(dim)
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, 1)

    @classmethod
    def from_module(cls, module: nn.Softmax, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaSoftmax':
        """Convert ``module``."""
        if module.dim is None:
            raise ValueError('Mesa: nn.Softmax(dim=None) (implicit dim) is '
                             'not supported; give the module a dim')
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaSoftmaxFunction.apply(x, self.dim, self.mesa_quant)
        return super().forward(x)


class MesaMatMul(nn.Module):
    """``torch.matmul(a, b)`` storing both operands in 8 bits for
    backward, each grouped along dimension 1 (heads).

    Args:
        num_groups (int): Quantisation groups of dimension 1 of each
            operand. Defaults to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
    """

    def __init__(self, num_groups: int = 1, ema_decay: float = 0.9):
        super().__init__()
        self.quant_a = MesaQuantizer(num_groups, ema_decay, 1)
        self.quant_b = MesaQuantizer(num_groups, ema_decay, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaMatMulFunction.apply(a, b, self.quant_a,
                                            self.quant_b)
        return torch.matmul(a, b)


class MesaLayerNorm(nn.LayerNorm):
    """:class:`torch.nn.LayerNorm` storing its input in 8 bits for
    backward.

    Args:
        normalized_shape (int | tuple): Normalised shape; its last size
            must be divisible by ``num_groups``.
        eps (float): Epsilon. Defaults to 1e-5.
        elementwise_affine (bool): Learn weight and bias. Defaults to True.
        num_groups (int): Quantisation groups of the last dimension.
            Defaults to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
        **kwargs: The other arguments of :class:`torch.nn.LayerNorm`.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5,
                 elementwise_affine: bool = True, num_groups: int = 1,
                 ema_decay: float = 0.9, **kwargs):
        super().__init__(normalized_shape, eps, elementwise_affine, **kwargs)
        _check_divides(num_groups, self.normalized_shape[-1],
                       'normalized_shape[-1]')
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, -1)

    @classmethod
    def from_module(cls, module: nn.LayerNorm, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaLayerNorm':
        """Convert ``module`` (same parameter objects)."""
        _check_divides(num_groups, module.normalized_shape[-1],
                       'normalized_shape[-1]')
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if mesa_active(self):
            return MesaLayerNormFunction.apply(x, self.normalized_shape,
                                               self.weight, self.bias,
                                               self.eps, self.mesa_quant)
        return super().forward(x)


class MesaBatchNorm2d(nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` storing its input in 8 bits for
    backward when it normalises with batch statistics (training).

    Args:
        num_features (int): Channels, divisible by ``num_groups``.
        num_groups (int): Quantisation groups of the channels. Defaults
            to 1.
        ema_decay (float): EMA decay. Defaults to 0.9.
        **kwargs: The other arguments of :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(self, num_features: int, num_groups: int = 1,
                 ema_decay: float = 0.9, **kwargs):
        super().__init__(num_features, **kwargs)
        _check_divides(num_groups, num_features, 'num_features')
        self.mesa_quant = MesaQuantizer(num_groups, ema_decay, 1)

    @classmethod
    def from_module(cls, module: nn.BatchNorm2d, num_groups: int = 1,
                    ema_decay: float = 0.9) -> 'MesaBatchNorm2d':
        """Convert ``module`` (same parameter and buffer objects)."""
        _check_divides(num_groups, module.num_features, 'num_features')
        return _adopt(cls, module,
                      mesa_quant=MesaQuantizer(num_groups, ema_decay, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not mesa_active(self):
            return super().forward(x)
        self._check_input_dim(x)
        # the momentum logic of nn.BatchNorm's training forward
        momentum = 0. if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1. / float(self.num_batches_tracked)
        return MesaBatchNormFunction.apply(
            x, self.weight, self.bias,
            self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            momentum, self.eps, self.mesa_quant)


class MesaAttend(nn.Module):
    """Drop-in replacement of :func:`~mmvitplug.layers.attend` whose
    explicit path stores the matmul operands and the softmax output in
    8 bits (grouped by heads), the official Mesa attention (``mm1``,
    ``softmax``, ``mm2`` with ``quant_groups=num_heads``).

    Plugged into :class:`~mmvitplug.layers.Attention` as its ``attend_op``
    by :func:`convert_to_mesa`. When Mesa is active (training with
    gradients) it always takes the explicit path (the fused kernel keeps
    full-precision tensors); otherwise it calls :func:`attend` unchanged.
    Masks behave as in :func:`attend` (queries with every key masked get
    zero weights).

    Args:
        num_heads (int): Heads of the attention, the number of groups.
        softmax (bool): Store the softmax output in 8 bits. Defaults to
            True.
        matmul (bool): Store the operands of ``q @ k^T`` and ``attn @ v``
            in 8 bits. Defaults to True.
        ema_decay (float): EMA decay. Defaults to 0.9.
    """

    def __init__(self, num_heads: int, softmax: bool = True,
                 matmul: bool = True, ema_decay: float = 0.9):
        super().__init__()
        if not (softmax or matmul):
            raise ValueError('MesaAttend needs softmax or matmul (or both)')
        self.num_heads = num_heads
        self.qk = MesaMatMul(num_heads, ema_decay) if matmul else None
        self.quant_softmax = MesaQuantizer(num_heads, ema_decay, 1) \
            if softmax else None
        self.av = MesaMatMul(num_heads, ema_decay) if matmul else None

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                scale: Optional[float] = None,
                mask: Optional[torch.Tensor] = None,
                dropout_p: float = 0.,
                fused: bool = True) -> torch.Tensor:
        """Attention ``softmax(q k^T * scale + mask) v``; the arguments of
        :func:`~mmvitplug.layers.attend`."""
        if not mesa_active(self):
            return attend(q, k, v, scale=scale, mask=mask,
                          dropout_p=dropout_p, fused=fused)
        check_qkv(q, k, v, mask)
        return attend_explicit(
            q, k, v, scale=scale, mask=mask, dropout_p=dropout_p,
            qk_matmul=torch.matmul if self.qk is None else self.qk,
            av_matmul=torch.matmul if self.av is None else self.av,
            softmax=self._softmax)

    def _softmax(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """The softmax, its output stored in 8 bits when ``softmax``."""
        if self.quant_softmax is None:
            return torch.softmax(x, dim)
        return MesaSoftmaxFunction.apply(x, dim, self.quant_softmax)


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------


def _check_divides(num_groups: int, channels: int, name: str) -> None:
    _check_num_groups(num_groups)
    if channels % num_groups != 0:
        raise ValueError(f'num_groups ({num_groups}) must divide {name} '
                         f'({channels})')


def _check_conv(conv: nn.Conv2d) -> None:
    if conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
        raise ValueError(
            'Mesa converts Conv2d with integer zero padding only, got '
            f'padding={conv.padding!r}, padding_mode={conv.padding_mode!r}; '
            'exclude the module with the policy key "skip"')


def check_policy(policy: Optional[dict]) -> dict:
    """Validate a Mesa policy and fill in its defaults.

    Args:
        policy (dict, optional): See :func:`convert_to_mesa`.

    Returns:
        dict: The policy with every key of :data:`POLICY_KEYS`.
    """
    policy = dict(policy or {})
    unknown = sorted(set(policy) - set(POLICY_KEYS))
    if unknown:
        raise ValueError(f'unknown Mesa policy keys {unknown}; valid keys: '
                         f'{list(POLICY_KEYS)}')
    ops = policy.get('ops', MESA_OPS)
    if isinstance(ops, str) or not isinstance(ops, Iterable):
        raise TypeError(f'policy "ops" must be a sequence of names, got '
                        f'{ops!r}')
    ops = tuple(ops)
    bad = [op for op in ops if op not in MESA_OPS]
    if bad or not ops:
        raise ValueError(f'policy "ops" must be a non-empty subset of '
                         f'{list(MESA_OPS)}, got {list(ops)}')
    skip = policy.get('skip', ())
    if isinstance(skip, str) or not all(isinstance(s, str) for s in skip):
        raise TypeError('policy "skip" must be a sequence of module-name '
                        f'patterns, got {skip!r}')
    num_groups = policy.get('num_groups', 1)
    _check_num_groups(num_groups)
    ema_decay = policy.get('ema_decay', 0.9)
    _check_ema_decay(ema_decay)
    return dict(ops=ops, num_groups=num_groups, ema_decay=float(ema_decay),
                skip=tuple(skip))


_MESA_TYPES = (MesaLinear, MesaConv2d, MesaGELU, MesaReLU, MesaSoftmax,
               MesaLayerNorm, MesaBatchNorm2d)


def _convert_leaf(child: nn.Module, policy: dict
                  ) -> Optional[tuple]:
    """The (op, converted module) of a leaf module the policy converts, or
    None."""
    ops, groups = policy['ops'], policy['num_groups']
    decay = policy['ema_decay']
    kind = type(child)
    if kind is nn.Linear and 'linear' in ops:
        g = math.gcd(groups, child.in_features)
        return 'linear', MesaLinear.from_module(child, g, decay)
    if kind is nn.Conv2d and 'conv' in ops:
        g = math.gcd(groups, child.in_channels)
        return 'conv', MesaConv2d.from_module(child, g, decay)
    if kind is nn.GELU and 'gelu' in ops:
        return 'gelu', MesaGELU.from_module(child, groups, decay)
    if kind is nn.ReLU and 'relu' in ops:
        return 'relu', MesaReLU.from_module(child)
    if kind is nn.Softmax and 'softmax' in ops:
        return 'softmax', MesaSoftmax.from_module(child, groups, decay)
    if kind is nn.LayerNorm and 'layernorm' in ops:
        g = math.gcd(groups, child.normalized_shape[-1])
        return 'layernorm', MesaLayerNorm.from_module(child, g, decay)
    if kind is nn.BatchNorm2d and 'batchnorm' in ops:
        g = math.gcd(groups, child.num_features)
        return 'batchnorm', MesaBatchNorm2d.from_module(child, g, decay)
    if isinstance(child, nn.SyncBatchNorm) and 'batchnorm' in ops:
        raise ValueError('Mesa does not convert SyncBatchNorm; remove '
                         '"batchnorm" from the policy ops or skip the module')
    return None


def convert_to_mesa(module: nn.Module,
                    policy: Optional[dict] = None) -> Dict[str, int]:
    """Convert a model to `Mesa <https://arxiv.org/abs/2111.11124>`_ in
    place: the operations the policy names store their saved tensors in
    8 bits.

    Leaf modules of exactly these types are replaced by their Mesa
    subclass holding the same parameter, buffer and hook objects (so the
    optimizer, the state dict and pretrained loading are unaffected;
    ``isinstance`` checks still hold): ``nn.Linear`` ('linear'),
    ``nn.Conv2d`` ('conv'), ``nn.GELU`` ('gelu'), ``nn.ReLU`` ('relu'),
    ``nn.Softmax`` ('softmax'), ``nn.LayerNorm`` ('layernorm'),
    ``nn.BatchNorm2d`` ('batchnorm'). Subclasses (e.g. the quantised
    linears of :mod:`mmvitplug.layers.lsq`) are left alone. Every
    :class:`~mmvitplug.layers.Attention` whose ``forward`` is Attention's
    gets a :class:`MesaAttend` as ``attend_op`` ('softmax' and / or
    'matmul': its attention tensors, grouped by heads); attention layers
    with their own forward keep their softmax and products in full
    precision. Modules already converted count as converted, so
    converting twice changes nothing.

    Groups: a tensor of known channels C (the input of a linear, conv,
    LayerNorm or BatchNorm) uses ``gcd(num_groups, C)`` groups, GELU and
    ``nn.Softmax`` ``num_groups`` (their input's last dimension, resp.
    dimension 1, must be divisible by it), attention tensors one group per
    head. The official DeiT recipe uses ``num_groups`` = the number of
    heads.

    Args:
        module (nn.Module): The model, converted in place.
        policy (dict, optional): Keys (all optional):

            - ``ops`` (Sequence[str]): Operations to convert, a subset of
              :data:`MESA_OPS`. Defaults to all.
            - ``num_groups`` (int): Quantisation groups. Defaults to 1.
            - ``ema_decay`` (float): Decay of the running range / offset.
              Defaults to 0.9.
            - ``skip`` (Sequence[str]): :mod:`fnmatch` patterns of module
              names (as ``named_modules``) left unconverted with their
              children; each must match a module. Defaults to ().

    Returns:
        dict[str, int]: Number of modules (Attention layers for
        'softmax' / 'matmul') converted (or found converted) per op.

    Raises:
        ValueError: Unknown policy keys or ops, a ``skip`` pattern matching
            no module, a module the policy cannot convert (non-zero
            padding convolution, SyncBatchNorm), or nothing to convert.
    """
    policy = check_policy(policy)
    counts = {op: 0 for op in policy['ops']}
    matched = set()
    ops = policy['ops']
    mesa_attn = 'softmax' in ops or 'matmul' in ops

    def skipped(name: str) -> bool:
        hits = [p for p in policy['skip'] if fnmatch.fnmatchcase(name, p)]
        matched.update(hits)
        return bool(hits)

    def visit(parent: nn.Module, prefix: str) -> None:
        for name, child in list(parent.named_children()):
            full = f'{prefix}{name}'
            if skipped(full):
                continue
            if isinstance(child, _MESA_TYPES):
                op = _OP_OF[type(child)]
                if op in counts:
                    counts[op] += 1
                continue
            converted = _convert_leaf(child, policy)
            if converted is not None:
                op, new = converted
                setattr(parent, name, new)
                counts[op] += 1
                continue
            if mesa_attn and isinstance(child, Attention) and \
                    type(child).forward is Attention.forward:
                if child.attend_op is None:
                    child.attend_op = MesaAttend(
                        child.num_heads, 'softmax' in ops, 'matmul' in ops,
                        policy['ema_decay']).to(child.qkv.weight.device)
                for op in ('softmax', 'matmul'):
                    if op in counts:
                        counts[op] += 1
            visit(child, full + '.')

    if not skipped(''):
        visit(module, '')
    unmatched = sorted(set(policy['skip']) - matched)
    if unmatched:
        raise ValueError(f'Mesa policy "skip" patterns {unmatched} match no '
                         'module name')
    if not any(counts.values()):
        raise ValueError(f'the Mesa policy (ops {list(ops)}) converts no '
                         f'module of {type(module).__name__}')
    return counts


_OP_OF = {
    MesaLinear: 'linear',
    MesaConv2d: 'conv',
    MesaGELU: 'gelu',
    MesaReLU: 'relu',
    MesaSoftmax: 'softmax',
    MesaLayerNorm: 'layernorm',
    MesaBatchNorm2d: 'batchnorm',
}


@contextlib.contextmanager
def count_saved_bytes(exclude: Iterable[torch.Tensor] = ()
                      ) -> Iterator[Dict[str, int]]:
    """Count the bytes autograd saves for backward inside the context.

    Uses :func:`torch.autograd.graph.saved_tensors_hooks`. Tensors sharing
    a storage (views, the same tensor saved twice) count once, with their
    storage's size; tensors whose storage is one of ``exclude``'s (e.g. the
    model's parameters, saved by both plain and Mesa operations) are not
    counted.

    Args:
        exclude (Iterable[torch.Tensor]): Tensors not to count.

    Yields:
        dict[str, int]: ``bytes`` (unique storages) and ``tensors`` (saved
        tensors, excluded ones not included), filled in as the graph is
        built.
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen = set()
    stats = dict(bytes=0, tensors=0)

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in skip:
            stats['tensors'] += 1
            if ptr not in seen:
                seen.add(ptr)
                stats['bytes'] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield stats


__all__: Sequence[str] = (
    'LEVELS', 'MESA_OPS', 'POLICY_KEYS', 'MesaAttend', 'MesaBatchNorm2d',
    'MesaConv2d', 'MesaGELU', 'MesaLayerNorm', 'MesaLinear', 'MesaMatMul',
    'MesaQuantizer', 'MesaReLU', 'MesaSoftmax', 'check_policy',
    'convert_to_mesa', 'count_saved_bytes', 'dequantize', 'mesa_active',
    'packbits', 'quantize', 'unpackbits')
