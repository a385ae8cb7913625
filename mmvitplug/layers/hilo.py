# Copyright (c) mmvitplug contributors.
"""HiLo attention: high frequencies in local windows, low frequencies
against pooled keys and values.

`Pan et al. 2022, "Fast Vision Transformers with HiLo Attention" (LITv2)
<https://arxiv.org/abs/2205.13213>`_.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attend


class HiLoAttention(nn.Module):
    """HiLo attention over a (H, W) token grid.

    The heads are split in two groups whose outputs are concatenated along
    the channels, Hi-Fi first:

    - **Lo-Fi** (``int(num_heads * alpha)`` heads): every token queries keys
      and values computed from the ``window_size``-average-pooled full-width
      input (``l_q``, ``l_kv``), then ``l_proj``;
    - **Hi-Fi** (the other heads): attention inside non-overlapping
      ``window_size`` x ``window_size`` windows (``h_qkv``), then ``h_proj``.

    There is no joint output projection. ``window_size=1`` makes every head
    Lo-Fi without pooling: plain multi-head self-attention. A grid whose
    sides are not multiples of ``window_size`` is zero-padded at the bottom
    and right before both branches (the pooled keys then average the padded
    zeros too) and cropped after, as the official detection backbone does;
    the official classification model only sees divisible grids.

    Parameter names (``l_q``, ``l_kv``, ``l_proj``, ``h_qkv``, ``h_proj``)
    are the official ones.

    Args:
        dim (int): Token channels C.
        num_heads (int): Heads in both groups together. Defaults to 8.
        window_size (int): Hi-Fi window side and Lo-Fi pooling size
            (``s`` in the paper). Defaults to 2.
        alpha (float): Share of the heads that are Lo-Fi, in [0, 1].
            Defaults to 0.5.
        qkv_bias (bool): Biases of the query, key and value projections.
            Defaults to False.
        qk_scale (float, optional): Logit scale. Defaults to
            ``head_dim ** -0.5``.
        attn_drop (float): Dropout on the attention weights in training.
            Defaults to 0.
        proj_drop (float): Dropout on the output in training. Defaults to 0.
        fused_attn (bool): Use :func:`torch.nn.functional.scaled_dot_\
product_attention` (True) or the explicit softmax path (False); they
            compute the same function. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 window_size: int = 2,
                 alpha: float = 0.5,
                 qkv_bias: bool = False,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if num_heads < 1 or dim % num_heads != 0:
            raise ValueError(f'dim {dim} must be a multiple of num_heads '
                             f'{num_heads} (>= 1)')
        if window_size < 1:
            raise ValueError(f'window_size must be >= 1, got {window_size}')
        if not 0. <= alpha <= 1.:
            raise ValueError(f'alpha (share of Lo-Fi heads) must be in '
                             f'[0, 1], got {alpha}')
        self.dim = dim
        self.head_dim = dim // num_heads
        self.window_size = window_size
        if window_size == 1:  # plain multi-head self-attention
            self.l_heads = num_heads
        else:
            self.l_heads = int(num_heads * alpha)
        self.h_heads = num_heads - self.l_heads
        self.l_dim = self.l_heads * self.head_dim
        self.h_dim = self.h_heads * self.head_dim
        self.scale = qk_scale or self.head_dim**-0.5
        self.attn_drop = attn_drop
        self.fused_attn = fused_attn
        if self.l_heads > 0:
            self.l_q = nn.Linear(dim, self.l_dim, bias=qkv_bias)
            self.l_kv = nn.Linear(dim, self.l_dim * 2, bias=qkv_bias)
            self.l_proj = nn.Linear(self.l_dim, self.l_dim)
        if self.h_heads > 0:
            self.h_qkv = nn.Linear(dim, self.h_dim * 3, bias=qkv_bias)
            self.h_proj = nn.Linear(self.h_dim, self.h_dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, lofi_heads={self.l_heads}, '
                f'hifi_heads={self.h_heads}, window_size={self.window_size}')

    def _attend(self, q, k, v):
        return attend(
            q, k, v, scale=self.scale,
            dropout_p=self.attn_drop if self.training else 0.,
            fused=self.fused_attn)

    def hifi(self, x: torch.Tensor) -> torch.Tensor:
        """Window attention of the Hi-Fi heads: (B, H, W, C) with H and W
        multiples of the window -> (B, H, W, h_dim)."""
        B, H, W, _ = x.shape
        s, heads, d = self.window_size, self.h_heads, self.head_dim
        gh, gw = H // s, W // s
        # (B, gh, s, gw, s, 3, heads, d) -> 3 x (B * gh * gw, heads, s*s, d)
        qkv = self.h_qkv(x).view(B, gh, s, gw, s, 3, heads, d)
        qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4, 7).reshape(
            3, B * gh * gw, heads, s * s, d)
        out = self._attend(*qkv.unbind(0))
        # back to the grid: (B, gh, gw, heads, s, s, d) -> (B, H, W, h_dim)
        out = out.view(B, gh, gw, heads, s, s, d).permute(0, 1, 4, 2, 5, 3, 6)
        return self.h_proj(out.reshape(B, H, W, self.h_dim))

    def lofi(self, x: torch.Tensor) -> torch.Tensor:
        """Attention of every token to the pooled grid, Lo-Fi heads:
        (B, H, W, C) -> (B, H, W, l_dim)."""
        B, H, W, C = x.shape
        heads, d = self.l_heads, self.head_dim
        q = self.l_q(x).view(B, H * W, heads, d).transpose(1, 2)
        if self.window_size > 1:
            pooled = F.avg_pool2d(x.permute(0, 3, 1, 2), self.window_size)
            x = pooled.flatten(2).transpose(1, 2)
        kv = self.l_kv(x).view(B, -1, 2, heads, d).permute(2, 0, 3, 1, 4)
        out = self._attend(q, kv[0], kv[1])
        return self.l_proj(out.transpose(1, 2).reshape(B, H, W, self.l_dim))

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, H * W, C) of a (H, W) grid -> (B, H * W, C)."""
        B, N, C = x.shape
        H, W = hw_shape
        if N != H * W or C != self.dim:
            raise ValueError(f'HiLoAttention of dim {self.dim} takes tokens '
                             f'(B, H * W, {self.dim}) of the grid {H}x{W}, '
                             f'got shape {tuple(x.shape)}')
        x = x.view(B, H, W, C)
        s = self.window_size
        pad_b, pad_r = (s - H % s) % s, (s - W % s) % s
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        outs = []
        if self.h_heads > 0:
            outs.append(self.hifi(x))
        if self.l_heads > 0:
            outs.append(self.lofi(x))
        out = torch.cat(outs, dim=-1)[:, :H, :W]
        return self.proj_drop(out.reshape(B, N, C))
