# Copyright (c) mmvitplug contributors.
"""Normalisation layers."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of NCHW feature maps.

    Normalises each spatial position over C, as ``nn.LayerNorm(C)`` does on
    NHWC. :mod:`mmvitplug.models.norms` registers it as ``LN2d``, so
    configs build it with
    ``build_norm_layer(dict(type='mmvitplug.LN2d'), C)``.

    Args:
        num_channels (int): Number of channels C.
        eps (float): Value added to the variance. Defaults to 1e-6.
        elementwise_affine (bool): Learn a per-channel scale and shift.
            Defaults to True.
    """
    _abbr_ = 'ln'

    def __init__(self,
                 num_channels: int,
                 eps: float = 1e-6,
                 elementwise_affine: bool = True):
        super().__init__(
            num_channels, eps=eps, elementwise_affine=elementwise_affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape (B, C, H, W) over C."""
        if x.ndim != 4:
            raise ValueError(
                f'LayerNorm2d expects (B, C, H, W), got {tuple(x.shape)}')
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                         self.eps)
        # contiguous NCHW, not a channels-last view: see tokens_to_featmap
        return x.permute(0, 3, 1, 2).contiguous()
