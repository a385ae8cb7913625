# Copyright (c) mmvitplug contributors.
"""Learned attention-based aggregation (attention pooling).

From `PatchConvNet <https://arxiv.org/abs/2112.13692>`_.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class AttentionPool(nn.Module):
    """Query tokens attend over the other tokens to aggregate them.

    The first ``num_queries`` tokens of the input (class tokens) are the
    queries; keys and values are computed from all tokens when
    ``keys_include_queries`` (the single-class-token layer of PatchConvNet,
    like CaiT's class attention) or from the remaining (patch) tokens only
    (PatchConvNet's multi-class-token layer). Only the query tokens are
    updated, so the cost is linear in the number of patches. Separate
    ``q``, ``k``, ``v`` projections and ``proj`` follow the official names.

    The fused path calls
    :func:`torch.nn.functional.scaled_dot_product_attention`; the explicit
    path materialises ``softmax(q k^T * scale)`` (attention maps, FLOP
    counters). Both compute the same function.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``. Defaults to 1.
        num_queries (int): Number of leading query tokens. Defaults to 1.
        keys_include_queries (bool): Whether the query tokens are also keys
            and values. Defaults to True.
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after ``proj``. Defaults to 0.
        fused_attn (bool): Use the fused kernel. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 1,
                 num_queries: int = 1,
                 keys_include_queries: bool = True,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        if num_queries < 1:
            raise ValueError(f'num_queries must be >= 1, got {num_queries}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.num_queries = num_queries
        self.keys_include_queries = keys_include_queries
        self.fused_attn = fused_attn

        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        return x.reshape(B, N, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Aggregate ``x`` (B, Q + N, C); returns the queries (B, Q, C)."""
        B, N, C = x.shape
        Q = self.num_queries
        if N <= Q:
            raise ValueError(f'AttentionPool needs more than num_queries '
                             f'({Q}) tokens, got {N}')
        kv = x if self.keys_include_queries else x[:, Q:]
        q = self._heads(self.q(x[:, :Q]))
        k = self._heads(self.k(kv))
        v = self._heads(self.v(kv))

        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q, k, v,
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            attn = self.attn_drop(attn.softmax(dim=-1))
            x = attn @ v

        x = x.transpose(1, 2).reshape(B, Q, C)
        return self.proj_drop(self.proj(x))
