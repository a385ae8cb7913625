# Copyright (c) mmvitplug contributors.
"""Connectors: trainable adapters from a student feature to the shape of the
teacher feature it is compared with (as mmrazor's connectors).

A connector is an ``nn.Module`` of the distiller, so it is trained with the
student and saved in its checkpoints.
"""
import torch
import torch.nn as nn

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
