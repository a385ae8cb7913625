# Copyright (c) mmvitplug contributors.
"""Convolutional patch stem.

From `PatchConvNet <https://arxiv.org/abs/2112.13692>`_.
"""
from typing import Callable

import torch
import torch.nn as nn


class ConvStem(nn.Module):
    """Image to patch features with a stack of stride-2 3x3 convolutions.

    ``log2(patch_size)`` bias-free 3x3 stride-2 convolutions separated by
    activations; the widths double up to ``embed_dims`` (for patch 16:
    embed_dims/8, /4, /2, 1), as PatchConvNet's stem. ``proj`` holds the
    layers (convolutions at the even indices).

    Args:
        patch_size (int): Total stride, a power of two >= 2.
            Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        embed_dims (int): Output channels; must be divisible by
            ``patch_size / 2``. Defaults to 768.
        act_layer (Callable[[], nn.Module]): Activation between the
            convolutions. Defaults to :class:`torch.nn.GELU`.
    """

    def __init__(self,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 act_layer: Callable[[], nn.Module] = nn.GELU):
        super().__init__()
        if not isinstance(patch_size, int) or patch_size < 2 or \
                patch_size & (patch_size - 1):
            raise ValueError('ConvStem patch_size must be a power of two '
                             f'>= 2 (2, 4, 8, 16, ...), got {patch_size!r}')
        num_convs = patch_size.bit_length() - 1
        if embed_dims % (patch_size // 2):
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by patch_size / 2 ({patch_size // 2})')
        self.patch_size = patch_size
        widths = [embed_dims >> (num_convs - 1 - i) for i in range(num_convs)]
        layers = []
        for i, (cin, cout) in enumerate(zip([in_channels] + widths, widths)):
            if i:
                layers.append(act_layer())
            layers.append(
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False))
        self.proj = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C, H, W) images to (B, embed_dims, H/p, W/p) features."""
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(f'Input size {H}x{W} is not divisible by the '
                             f'patch size {self.patch_size}')
        return self.proj(x)
