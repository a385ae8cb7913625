# Copyright (c) mmvitplug contributors.
"""DCNv3: grouped deformable sampling with softmax-normalised modulation,
in pure PyTorch (``F.grid_sample``), on CPU and GPU alike.

`Wang et al. 2023, "InternImage: Exploring Large-Scale Vision Foundation
Models with Deformable Convolutions" <https://arxiv.org/abs/2211.05778>`_;
official code: OpenGVLab/InternImage (``ops_dcnv3``; its compiled kernel
is CUDA-only, its PyTorch path ``dcnv3_core_pytorch`` is "for debug and
test only").
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def dcnv3_sample(x: torch.Tensor,
                 offset: torch.Tensor,
                 mask: torch.Tensor,
                 kernel_size: int,
                 groups: int,
                 stride: int = 1,
                 padding: int = 0,
                 dilation: int = 1,
                 offset_scale: float = 1.0) -> torch.Tensor:
    """The DCNv3 operator: each channel group samples its own deformed
    ``kernel_size`` x ``kernel_size`` points (bilinear, zeros outside the
    input) and sums them weighted by its modulation mask; there is no
    weight across channels (the projections around it mix channels).

    Output pixel ``(i, j)`` of group ``g`` reads, for kernel point
    ``(u, v)`` (``u`` along the width), the input at::

        x = j * stride - padding + c + (v_u + dx) * offset_scale
        y = i * stride - padding + c + (v_v + dy) * offset_scale

    with ``c = dilation * (kernel_size - 1) // 2``, the kernel grid
    ``v = dilation * index - c`` and ``(dx, dy)`` the point's offset, and
    multiplies it by the point's mask. The kernel points are ordered
    column by column (``u`` outer, ``v`` inner) and each offset is an
    ``(x, y)`` pair, as the official layout is: official weights of the
    offset and mask projections load unchanged.

    Equal to the official ``dcnv3_core_pytorch`` (tested against its
    golden outputs) without its explicit zero padding (sampling the
    unpadded input with zeros outside is the same) and with square
    paddings only (the official function pads the width by ``pad_h`` and
    the height by ``pad_w``, which only its square callers survive). The
    sampling runs in at least float32 whatever the input dtype (bf16
    coordinates would misplace samples on large maps) and the result is
    cast back.

    Args:
        x (torch.Tensor): Input (N, H, W, C), channels last.
        offset (torch.Tensor): Offsets in pixels (N, H_out, W_out,
            groups * kernel_size**2 * 2).
        mask (torch.Tensor): Modulation (N, H_out, W_out,
            groups * kernel_size**2).
        kernel_size (int): Kernel side.
        groups (int): Channel groups, each with its own offsets and mask.
        stride (int): Stride. Defaults to 1.
        padding (int): Zero padding on every side. Defaults to 0.
        dilation (int): Spacing of the kernel grid. Defaults to 1.
        offset_scale (float): Scale of the kernel grid and the offsets.
            Defaults to 1.0.

    Returns:
        torch.Tensor: (N, H_out, W_out, C) with ``H_out = (H + 2 * padding
        - dilation * (kernel_size - 1) - 1) // stride + 1`` (and ``W_out``
        alike).
    """
    N, H, W, C = x.shape
    points = kernel_size * kernel_size
    H_out, W_out = _out_size(H, W, kernel_size, stride, padding, dilation)
    if C % groups:
        raise ValueError(f'dcnv3_sample: {C} channels do not split into '
                         f'{groups} groups')
    expected = (N, H_out, W_out, groups * points)
    if tuple(mask.shape) != expected or \
            tuple(offset.shape) != expected[:3] + (2 * expected[3], ):
        raise ValueError(
            f'dcnv3_sample: for input {tuple(x.shape)} (kernel '
            f'{kernel_size}, stride {stride}, padding {padding}, dilation '
            f'{dilation}, {groups} groups) offset must be '
            f'{expected[:3] + (2 * expected[3], )} and mask {expected}; got '
            f'{tuple(offset.shape)} and {tuple(mask.shape)}')
    dtype = torch.promote_types(x.dtype, torch.float32)
    base = _base_grid(H_out, W_out, kernel_size, stride, padding, dilation,
                      offset_scale, x.device, dtype)
    # pixel coordinates (N, H_out, W_out, G, P, 2) -> grid_sample's [-1, 1]
    # (align_corners=False: pixel p is at (2p + 1) / size - 1)
    loc = base + offset.to(dtype).view(N, H_out, W_out, groups, points,
                                       2) * offset_scale
    size = torch.tensor([W, H], dtype=dtype, device=x.device)
    grid = (2 * loc + 1) / size - 1
    # sample every point of every output pixel at once:
    # (N * G, C_g, H, W) at (N * G, P, H_out * W_out) points
    grid = grid.permute(0, 3, 4, 1, 2, 5).reshape(N * groups, points,
                                                  H_out * W_out, 2)
    value = x.to(dtype).permute(0, 3, 1, 2)
    value = value.reshape(N * groups, C // groups, H, W)
    sampled = F.grid_sample(
        value, grid, mode='bilinear', padding_mode='zeros',
        align_corners=False)  # (N * G, C_g, P, H_out * W_out)
    weight = mask.to(dtype).view(N, H_out * W_out, groups, points)
    weight = weight.permute(0, 2, 3, 1).reshape(N * groups, 1, points,
                                                H_out * W_out)
    out = (sampled * weight).sum(2)  # (N * G, C_g, H_out * W_out)
    out = out.view(N, C, H_out, W_out).permute(0, 2, 3, 1)
    return out.to(x.dtype)


def _out_size(H: int, W: int, kernel_size: int, stride: int, padding: int,
              dilation: int) -> Tuple[int, int]:
    span = dilation * (kernel_size - 1) + 1
    H_out = (H + 2 * padding - span) // stride + 1
    W_out = (W + 2 * padding - span) // stride + 1
    if H_out < 1 or W_out < 1:
        raise ValueError(
            f'dcnv3_sample: input {H}x{W} is smaller than the kernel span '
            f'{span} with padding {padding}')
    return H_out, W_out


def _base_grid(H_out: int, W_out: int, kernel_size: int, stride: int,
               padding: int, dilation: int, offset_scale: float,
               device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Undeformed sampling positions (1, H_out, W_out, 1, P, 2) in input
    pixels, (x, y) pairs, kernel points column by column."""
    center = dilation * (kernel_size - 1) // 2
    ys = torch.arange(H_out, device=device, dtype=dtype) * stride
    xs = torch.arange(W_out, device=device, dtype=dtype) * stride
    ref = torch.stack(
        torch.meshgrid(xs, ys, indexing='xy'), -1) + (center - padding)
    taps = torch.arange(
        kernel_size, device=device, dtype=dtype) * dilation - center
    # u (x) outer, v (y) inner: the official point order
    kernel = torch.stack(torch.meshgrid(taps, taps, indexing='ij'),
                         -1).reshape(-1, 2) * offset_scale
    return ref.view(1, H_out, W_out, 1, 1, 2) + kernel.view(1, 1, 1, 1, -1, 2)


class DCNv3(nn.Module):
    """DCNv3 as InternImage uses it, channels last: (N, H, W, C) -> same.

    ``input_proj`` mixes the channels; a depth-wise ``kernel_size`` x
    ``kernel_size`` convolution, LayerNorm and GELU of the input
    (``dw_conv``, ``dw_norm``) feed the linear ``offset`` and ``mask``
    projections; each group's mask logits are softmax-normalised over its
    ``kernel_size**2`` points; :func:`dcnv3_sample` gathers the projected
    input at the deformed points (stride 1, the size kept); ``output_proj``
    mixes the channels again.

    Parameter names are the official ``DCNv3`` / ``DCNv3_pytorch`` ones,
    except ``dw_conv`` (official ``dw_conv.0``) and ``dw_norm`` (official
    ``dw_conv.1.1``). The InternImage-H/G options (``dw_kernel_size``,
    ``center_feature_scale``, ``remove_center``) are not built.

    Args:
        channels (int): Channels C.
        groups (int): Channel groups, each with its own offsets and mask;
            must divide ``channels``.
        kernel_size (int): Kernel side (odd). Defaults to 3.
        dilation (int): Spacing of the kernel grid. Defaults to 1.
        offset_scale (float): Scale of the kernel grid and of the offsets
            (InternImage-L/XL: 2.0). Defaults to 1.0.
    """

    def __init__(self,
                 channels: int,
                 groups: int,
                 kernel_size: int = 3,
                 dilation: int = 1,
                 offset_scale: float = 1.0):
        super().__init__()
        if channels % groups:
            raise ValueError(f'DCNv3: channels ({channels}) must be '
                             f'divisible by groups ({groups})')
        if kernel_size % 2 == 0:
            raise ValueError(
                f'DCNv3 keeps the map size, which needs an odd kernel_size; '
                f'got {kernel_size}')
        self.channels = channels
        self.groups = groups
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.offset_scale = offset_scale
        points = kernel_size * kernel_size
        self.dw_conv = nn.Conv2d(
            channels,
            channels,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            groups=channels)
        self.dw_norm = nn.LayerNorm(channels, eps=1e-6)
        self.dw_act = nn.GELU()
        self.offset = nn.Linear(channels, groups * points * 2)
        self.mask = nn.Linear(channels, groups * points)
        self.input_proj = nn.Linear(channels, channels)
        self.output_proj = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self):
        """The official initialisation: zero offsets and uniform masks
        (zero ``offset`` / ``mask`` projections), Xavier-uniform
        ``input_proj`` / ``output_proj`` with zero biases."""
        for layer in (self.offset, self.mask):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for layer in (self.input_proj, self.output_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, H, W, _ = x.shape
        query = self.dw_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        query = self.dw_act(self.dw_norm(query))
        mask = self.mask(query).view(N, H, W, self.groups, -1)
        mask = mask.softmax(-1).flatten(3)
        x = dcnv3_sample(
            self.input_proj(x),
            self.offset(query),
            mask,
            self.kernel_size,
            self.groups,
            padding=self.dilation * (self.kernel_size - 1) // 2,
            dilation=self.dilation,
            offset_scale=self.offset_scale)
        return self.output_proj(x)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, groups={self.groups}, '
                f'kernel_size={self.kernel_size}, dilation={self.dilation}, '
                f'offset_scale={self.offset_scale}')


__all__ = ['DCNv3', 'dcnv3_sample']
