# Copyright (c) mmvitplug contributors.
"""Gradient reversal.

`Ganin & Lempitsky 2015 <https://arxiv.org/abs/1409.7495>`_: the identity in
the forward pass, the gradient multiplied by ``-scale`` in the backward pass.
Put between a network and an adversary (a discriminator) that minimise one
loss, it makes the network maximise what the adversary minimises, in one
backward pass and with one optimizer.
"""
import torch


class _GradReverse(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * -ctx.scale, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` in the forward pass; its gradient times ``-scale`` backward.

    Args:
        x (torch.Tensor): Any tensor.
        scale (float): Factor of the reversed gradient, >= 0. Defaults to 1.0.

    Returns:
        torch.Tensor: A view of ``x``.
    """
    if not scale >= 0:
        raise ValueError(f'scale must be >= 0, got {scale}')
    return _GradReverse.apply(x, float(scale))
