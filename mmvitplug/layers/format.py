# Copyright (c) mmvitplug contributors.
"""Conversions between token sequences and feature maps."""
from typing import Tuple

import torch


def tokens_to_featmap(tokens: torch.Tensor,
                      hw: Tuple[int, int]) -> torch.Tensor:
    """Patch tokens (B, H*W, C) -> a contiguous NCHW map (B, C, H, W).

    The result is made contiguous on purpose: ``transpose`` + ``reshape``
    alone gives a channels-last *view*, and convolutions keep that memory
    format downstream, which stride-unaware ops misread — mmcv 2.1's
    ``RoIAlign`` pools scrambled features from such maps, so Mask R-CNN's
    RoI head never learns.

    Args:
        tokens (torch.Tensor): Patch tokens (B, N, C), row-major over the
            grid, without class / distillation tokens.
        hw (tuple[int, int]): The grid (H, W), H * W == N.

    Returns:
        torch.Tensor: (B, C, H, W), contiguous.
    """
    B, N, C = tokens.shape
    if hw[0] * hw[1] != N:
        raise ValueError(f'{N} tokens do not form a {hw[0]}x{hw[1]} grid')
    return tokens.transpose(1, 2).reshape(B, C, *hw).contiguous()
