# Copyright (c) mmvitplug contributors.
"""Stochastic depth.

`Huang et al. 2016 <https://arxiv.org/abs/1603.09382>`_.
"""
import torch
import torch.nn as nn


def drop_path(x: torch.Tensor,
              drop_prob: float = 0.,
              training: bool = False) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``drop_prob``.

    Kept samples are divided by the keep probability so the expectation is
    unchanged. Identity when not training or when ``drop_prob`` is 0.

    Args:
        x (torch.Tensor): Branch output, samples along the first dimension.
        drop_prob (float): Probability of dropping a sample, in [0, 1).
        training (bool): Whether the model is training.

    Returns:
        torch.Tensor: Tensor of the same shape as ``x``.
    """
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1. - drop_prob
    shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
    mask = x.new_empty(shape).bernoulli_(keep_prob)
    return x * mask.div_(keep_prob)


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` (per-sample stochastic depth).

    Args:
        drop_prob (float): Probability of dropping a sample, in [0, 1).
    """

    def __init__(self, drop_prob: float):
        super().__init__()
        if not 0. <= drop_prob < 1.:
            raise ValueError(
                f'drop_prob must be in [0, 1), got {drop_prob}')
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drop samples of ``x`` in training."""
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'
