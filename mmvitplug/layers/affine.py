# Copyright (c) mmvitplug contributors.
"""Per-channel affine "normalisation".

From `ResMLP <https://arxiv.org/abs/2105.03404>`_.
"""
import torch
import torch.nn as nn


class Affine(nn.Module):
    """``alpha * x + beta`` over the last (channel) dimension.

    ResMLP replaces LayerNorm by this statistics-free per-channel scale and
    shift: it behaves the same in training and inference and for any batch
    or token count. ``alpha`` starts at ones and ``beta`` at zeros (the
    identity), as in the official code and timm.

    Args:
        dim (int): Number of channels C (last dimension of the input).
    """
    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale and shift the channels (last dimension) of ``x``."""
        return torch.addcmul(self.beta, self.alpha, x)

    def reset_parameters(self):
        """Set ``alpha`` to ones and ``beta`` to zeros."""
        nn.init.ones_(self.alpha)
        nn.init.zeros_(self.beta)

    def extra_repr(self) -> str:
        return f'dim={self.alpha.numel()}'
