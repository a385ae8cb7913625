# Copyright (c) mmvitplug contributors.
"""Squeeze-and-excitation channel gating.

`Hu et al. 2018 <https://arxiv.org/abs/1709.01507>`_.
"""
from typing import Callable

import torch
import torch.nn as nn


class SqueezeExcite(nn.Module):
    """Gate the channels of a feature map by a function of its global mean.

    ``x * gate(conv_expand(act(conv_reduce(mean_hw(x)))))`` with 1x1
    convolutions ``conv_reduce`` (C -> round(C * rd_ratio)) and
    ``conv_expand`` (back to C), the names timm's EfficientNet-style SE uses.

    Args:
        channels (int): Number of channels C.
        rd_ratio (float): Reduction ratio of the hidden width.
            Defaults to 0.25.
        act_layer (Callable[[], nn.Module]): Hidden activation.
            Defaults to :class:`torch.nn.ReLU`.
        gate_layer (Callable[[], nn.Module]): Gate activation.
            Defaults to :class:`torch.nn.Sigmoid`.
    """

    def __init__(self,
                 channels: int,
                 rd_ratio: float = 0.25,
                 act_layer: Callable[[], nn.Module] = nn.ReLU,
                 gate_layer: Callable[[], nn.Module] = nn.Sigmoid):
        super().__init__()
        rd_channels = round(channels * rd_ratio)
        if rd_channels < 1:
            raise ValueError(f'rd_ratio {rd_ratio} leaves no hidden channel '
                             f'for {channels} channels')
        self.conv_reduce = nn.Conv2d(channels, rd_channels, 1)
        self.act1 = act_layer()
        self.conv_expand = nn.Conv2d(rd_channels, channels, 1)
        self.gate = gate_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` of shape (B, C, H, W)."""
        s = x.mean((2, 3), keepdim=True)
        s = self.conv_expand(self.act1(self.conv_reduce(s)))
        return x * self.gate(s)
