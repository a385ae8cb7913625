# Copyright (c) mmvitplug contributors.
"""The ConvNeXt block.

`Liu et al. 2022, "A ConvNet for the 2020s"
<https://arxiv.org/abs/2201.03545>`_.
"""
from typing import Optional

import torch
import torch.nn as nn

from .drop import DropPath


class ConvNeXtBlock(nn.Module):
    """Depth-wise k x k convolution, LayerNorm over the channels, Linear,
    GELU, Linear, layer scale, stochastic depth, residual; on NCHW maps
    (the pointwise layers run channels-last, as the official ConvNeXt).
    Parameter names are the official ones: ``dwconv``, ``norm``,
    ``pwconv1``, ``pwconv2``, ``gamma``.

    Args:
        dims (int): Channels.
        hidden_dims (int, optional): Hidden channels of the pointwise MLP.
            Defaults to None: 4 x ``dims``.
        kernel_size (int): Odd depth-wise kernel size. Defaults to 7.
        drop_path (float): Stochastic depth of the residual branch.
            Defaults to 0.
        layer_scale_init_value (float): Initial layer scale ``gamma``.
            Defaults to 1e-6.
    """

    def __init__(self,
                 dims: int,
                 hidden_dims: Optional[int] = None,
                 kernel_size: int = 7,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(
                f'ConvNeXtBlock kernel_size must be odd, got {kernel_size}')
        hidden_dims = hidden_dims or 4 * dims
        self.dwconv = nn.Conv2d(
            dims, dims, kernel_size, padding=kernel_size // 2, groups=dims)
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        self.pwconv1 = nn.Linear(dims, hidden_dims)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(hidden_dims, dims)
        self.gamma = nn.Parameter(
            torch.full((dims, ), float(layer_scale_init_value)))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))
