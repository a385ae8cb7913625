# Copyright (c) mmvitplug contributors.
"""Connectors: trainable adapters from a student feature to the shape of the
teacher feature it is compared with (as mmrazor's connectors).

A connector is an ``nn.Module`` of the distiller, so it is trained with the
student and saved in its checkpoints. Connectors apply to teacher sources too
(a parameter-free reshape or resize), and a source may chain several, e.g.
``connector=['tokens', 'proj']``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS


@MODELS.register_module()
class LinearConnector(nn.Module):
    """A linear map of the last dimension: tokens (N, L, C) or pooled
    features (N, C) to ``out_channels``.

    Args:
        in_channels (int): Student channels C.
        out_channels (int): Teacher channels.
        bias (bool): Whether the map has a bias. Defaults to True.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 bias: bool = True):
        super().__init__()
        self.proj = nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@MODELS.register_module()
class ConvConnector(nn.Module):
    """A convolution of feature maps (N, C, H, W), ``kernel_size // 2``
    padding so the spatial size is kept (FitNets-style hints).

    Args:
        in_channels (int): Student channels.
        out_channels (int): Teacher channels.
        kernel_size (int): Odd kernel size. Defaults to 1.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(
                f'kernel_size must be odd to keep the spatial size, got '
                f'{kernel_size}')
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError('ConvConnector needs feature maps (N, C, H, W), '
                             f'got shape {tuple(x.shape)}')
        return self.conv(x)


@MODELS.register_module()
class ResizeConnector(nn.Module):
    """Resize feature maps (N, C, H, W) to a fixed spatial size, e.g. a
    student grid to the larger teacher grid (locality guidance) or the
    other way round. No parameters.

    Args:
        size (int | tuple[int, int]): Output size (H, W).
        mode (str): ``'bilinear'``, ``'bicubic'``, ``'nearest'`` or
            ``'area'``. Defaults to 'bilinear'.
    """

    MODES = ('bilinear', 'bicubic', 'nearest', 'area')

    def __init__(self, size, mode: str = 'bilinear'):
        super().__init__()
        size = (size, size) if isinstance(size, int) else tuple(size)
        if len(size) != 2 or not all(
                isinstance(s, int) and s > 0 for s in size):
            raise ValueError('size must be a positive int or (H, W), got '
                             f'{size!r}')
        if mode not in self.MODES:
            raise ValueError(f'Unknown mode {mode!r}; choose from '
                             f'{", ".join(map(repr, self.MODES))}')
        self.size = size
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError('ResizeConnector needs feature maps '
                             f'(N, C, H, W), got shape {tuple(x.shape)}')
        if tuple(x.shape[2:]) == self.size:
            return x
        corners = False if self.mode in ('bilinear', 'bicubic') else None
        return F.interpolate(
            x, size=self.size, mode=self.mode, align_corners=corners)


@MODELS.register_module()
class TokensToMapConnector(nn.Module):
    """Tokens (N, L, C) of a ViT block to a feature map (N, C, H, W): the
    first ``num_extra_tokens`` (class / distillation tokens) are dropped and
    the patch tokens laid out row by row on their grid. No parameters.

    Args:
        num_extra_tokens (int): Leading tokens that are not patches.
            Defaults to 1 (a class token).
        grid_size (int | tuple[int, int], optional): Patch grid (H, W).
            Defaults to None: a square grid.
    """

    def __init__(self, num_extra_tokens: int = 1, grid_size=None):
        super().__init__()
        if not isinstance(num_extra_tokens, int) or num_extra_tokens < 0:
            raise ValueError('num_extra_tokens must be an int >= 0, got '
                             f'{num_extra_tokens!r}')
        if isinstance(grid_size, int):
            grid_size = (grid_size, grid_size)
        if grid_size is not None and (len(grid_size) != 2 or min(grid_size)
                                      < 1):
            raise ValueError(f'grid_size must be (H, W), got {grid_size!r}')
        self.num_extra_tokens = num_extra_tokens
        self.grid_size = None if grid_size is None else tuple(grid_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError('TokensToMapConnector needs tokens (N, L, C), '
                             f'got shape {tuple(x.shape)}')
        x = x[:, self.num_extra_tokens:]
        num = x.size(1)
        if self.grid_size is None:
            side = math.isqrt(num)
            if side * side != num:
                raise ValueError(
                    f'{num} patch tokens (after {self.num_extra_tokens} '
                    'extra ones) do not form a square grid; give '
                    'grid_size=(H, W) or the right num_extra_tokens')
            grid = (side, side)
        else:
            grid = self.grid_size
            if grid[0] * grid[1] != num:
                raise ValueError(
                    f'{num} patch tokens do not fill the grid {grid}')
        return x.transpose(1, 2).reshape(x.size(0), x.size(2), *grid)


@MODELS.register_module()
class MapToTokensConnector(nn.Module):
    """A feature map (N, C, H, W) to tokens (N, H * W, C), row by row, to
    compare a CNN stage with ViT tokens. No parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError('MapToTokensConnector needs feature maps '
                             f'(N, C, H, W), got shape {tuple(x.shape)}')
        return x.flatten(2).transpose(1, 2)
