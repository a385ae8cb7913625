# Copyright (c) mmvitplug contributors.
"""Absolute position-embedding resizing."""
from typing import Sequence

import torch
import torch.nn.functional as F


def resize_pos_embed(pos_embed: torch.Tensor,
                     src_shape: Sequence[int],
                     dst_shape: Sequence[int],
                     mode: str = 'bicubic',
                     num_extra_tokens: int = 1,
                     antialias: bool = False) -> torch.Tensor:
    """Resize a (1, extra + Hs*Ws, C) position embedding to a new grid.

    The first ``num_extra_tokens`` entries (class / distillation tokens) are
    kept as they are; the grid part is interpolated in float32 with
    ``align_corners=False``, as the official DeiT fine-tuning at 384 does.

    Args:
        pos_embed (torch.Tensor): Embedding of shape (1, L, C).
        src_shape (Sequence[int]): Grid (Hs, Ws) of ``pos_embed``.
        dst_shape (Sequence[int]): Target grid (Hd, Wd).
        mode (str): Interpolation mode of :func:`F.interpolate`.
            Defaults to 'bicubic'.
        num_extra_tokens (int): Number of leading non-grid tokens.
            Defaults to 1.
        antialias (bool): Antialiased interpolation (timm's default when it
            resizes checkpoints). Defaults to False.

    Returns:
        torch.Tensor: Embedding of shape (1, extra + Hd*Wd, C); ``pos_embed``
        itself when the grids are equal.
    """
    src_shape, dst_shape = tuple(src_shape), tuple(dst_shape)
    if src_shape == dst_shape:
        return pos_embed
    if pos_embed.ndim != 3:
        raise ValueError('pos_embed must have shape (1, L, C), got '
                         f'{tuple(pos_embed.shape)}')
    L, C = pos_embed.shape[1:]
    if L != num_extra_tokens + src_shape[0] * src_shape[1]:
        raise ValueError(
            f'pos_embed has {L} tokens but src_shape {src_shape} with '
            f'{num_extra_tokens} extra tokens needs '
            f'{num_extra_tokens + src_shape[0] * src_shape[1]}')
    extra = pos_embed[:, :num_extra_tokens]
    grid = pos_embed[:, num_extra_tokens:].float()
    grid = grid.reshape(1, *src_shape, C).permute(0, 3, 1, 2)
    grid = F.interpolate(
        grid,
        size=dst_shape,
        mode=mode,
        align_corners=False if mode in ('bilinear', 'bicubic') else None,
        antialias=antialias)
    grid = grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat((extra, grid), dim=1)
