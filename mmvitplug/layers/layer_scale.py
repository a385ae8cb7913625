# Copyright (c) mmvitplug contributors.
"""Per-channel residual scaling.

From `CaiT <https://arxiv.org/abs/2103.17239>`_.
"""
import torch
import torch.nn as nn


class LayerScale(nn.Module):
    """Multiply the channels of a residual branch by learnable ``gamma``.

    Args:
        dim (int): Number of channels (last dimension).
        init_values (float): Initial value of every entry of ``gamma``.
    """

    def __init__(self, dim: int, init_values: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale the last dimension of ``x``."""
        return x * self.gamma
