# Copyright (c) mmvitplug contributors.
"""Deformable convolution (DCNv1) with its own offset branch, and LIT's
deformable token merging built on it.

`Dai et al. 2017, "Deformable Convolutional Networks"
<https://arxiv.org/abs/1703.06211>`_; deformable token merging: `Pan et
al. 2022, "Less is More: Pay Less Attention in Vision Transformers" (LIT)
<https://arxiv.org/abs/2105.14217>`_, also used by LITv2.
"""
from typing import Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair
from torchvision.ops import deform_conv2d


class DeformConv2dPack(nn.Module):
    """A deformable convolution whose sampling offsets a plain convolution
    of the same input predicts ("pack": the offset branch is part of the
    layer), as mmcv's / mmdet v1's ``DeformConv2dPack`` that LIT and LITv2
    use.

    The offset convolution (``conv_offset``, same kernel, stride and
    padding) starts at zero, so the layer starts as the plain convolution.
    The official recipes train it with a smaller learning rate (LIT:
    ``lr_mult`` 0.1 on ``conv_offset``, set through the optimizer's
    ``paramwise_cfg``). The deformable convolution is
    :func:`torchvision.ops.deform_conv2d` (CPU and GPU); its offsets are
    the standard (y, x)-interleaved DCNv1 layout, equal to mmcv's
    ``DeformConv2d`` (tested).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Kernel size.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int]): Zero padding. Defaults to 0.
        deform_groups (int): Groups of input channels sharing one offset
            field. Defaults to 1.
        bias (bool): Bias of the deformable convolution. Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]],
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int]] = 0,
                 deform_groups: int = 1,
                 bias: bool = True):
        super().__init__()
        if in_channels % deform_groups != 0:
            raise ValueError(f'in_channels {in_channels} must be a multiple '
                             f'of deform_groups {deform_groups}')
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.deform_groups = deform_groups
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        # initialised as nn.Conv2d (kaiming uniform, a = sqrt(5))
        conv = nn.Conv2d(in_channels, out_channels, self.kernel_size,
                         bias=bias)
        with torch.no_grad():
            self.weight.copy_(conv.weight)
            if bias:
                self.bias.copy_(conv.bias)
        kh, kw = self.kernel_size
        self.conv_offset = nn.Conv2d(
            in_channels, deform_groups * 2 * kh * kw, self.kernel_size,
            stride=self.stride, padding=self.padding)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.conv_offset(x)
        return deform_conv2d(
            x, offset, self.weight, self.bias, stride=self.stride,
            padding=self.padding)


class DeformableTokenMerging(nn.Module):
    """Deformable token merging (DTM): LIT's downsampling between stages.

    A 2x2, stride-2 :class:`DeformConv2dPack` from ``in_channels`` to
    ``out_channels``, then BatchNorm and GELU. It merges each 2x2 group of
    tokens as a patch merging does, at positions the offsets move; with
    zero offsets (its initialisation) it is a plain 2x2 patch merge. An
    odd side drops its last row / column (kernel 2, stride 2, no padding),
    as the official detection backbones do.

    Parameter names (``dconv``, ``dconv.conv_offset``, ``norm_layer``) are
    the official ones.

    Args:
        in_channels (int): Channels of the input tokens.
        out_channels (int): Channels of the merged tokens (LIT: twice the
            input).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.dconv = DeformConv2dPack(
            in_channels, out_channels, kernel_size=2, stride=2)
        self.norm_layer = nn.BatchNorm2d(out_channels)
        self.act_layer = nn.GELU()

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]
                ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Tokens (B, H * W, C) of a (H, W) grid -> merged tokens
        (B, H' * W', out_channels) and (H', W') = (H // 2, W // 2)."""
        B, N, C = x.shape
        H, W = hw_shape
        if N != H * W or H < 2 or W < 2:
            raise ValueError(f'DeformableTokenMerging takes tokens (B, H * W, '
                             f'C) of a grid of at least 2x2, got shape '
                             f'{tuple(x.shape)} for the grid {H}x{W}')
        x = x.transpose(1, 2).reshape(B, C, H, W)
        x = self.act_layer(self.norm_layer(self.dconv(x)))
        out_hw = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), out_hw
