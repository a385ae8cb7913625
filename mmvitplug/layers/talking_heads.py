# Copyright (c) mmvitplug contributors.
"""Talking-heads self-attention.

From `Shazeer et al. 2020 <https://arxiv.org/abs/2003.02436>`_, as used by
`CaiT <https://arxiv.org/abs/2103.17239>`_.
"""
from typing import Optional

import torch
import torch.nn as nn

from .attention import check_mask, masked_softmax, record_weights
from .token_pruning import keep_matrix, key_policy


class TalkingHeadsAttention(nn.Module):
    """Multi-head self-attention whose heads talk before and after softmax.

    The attention logits of the ``num_heads`` heads are mixed by a learned
    ``num_heads x num_heads`` linear map ``proj_l`` before the softmax, and
    the attention weights are mixed again by ``proj_w`` after it. Child
    names follow timm / official CaiT (``qkv``, ``proj_l``, ``proj_w``,
    ``proj``).

    Two paths compute the same function:

    - efficient (``fused_attn=True``): the head mixing is one batched matrix
      product ``W @ A`` of the (B, heads, N*N) view of the attention tensor
      with the bias added in the same call (``torch.baddbmm``) and the
      ``q k^T`` scale folded into ``proj_l``'s weight, so no permuted copy
      of the (B, heads, N, N) tensor is made.
    - explicit (``fused_attn=False``): the reference formulation, which
      permutes the heads to the last axis and applies ``proj_l`` / ``proj_w``
      as ``nn.Linear`` layers.

    No SDPA kernel (nor :func:`~mmvitplug.layers.attend`) applies here: the
    logits are mixed across heads before the softmax, so the attention
    matrix is always materialised.

    An optional attention mask (bool keep-mask or additive, with the
    semantics of :func:`~mmvitplug.layers.attend`) applies to the mixed
    logits before the softmax; entries masked out (``False`` / ``-inf``)
    are also zeroed after ``proj_w``, whose bias would otherwise give them
    weight, so a keep-mask over keys gives the same output as attention over
    the kept tokens only. Likewise inside a
    :func:`~mmvitplug.layers.keep_tokens` policy (DynamicViT in training):
    the softmax is :func:`~mmvitplug.layers.softmax_with_policy` and the
    mixed weights are multiplied by the policy (self-loops kept).

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Add a bias to the qkv projection. Defaults to True.
        attn_drop (float): Dropout rate on the mixed attention weights.
            Defaults to 0.
        proj_drop (float): Dropout rate after the output projection.
            Defaults to 0.
        fused_attn (bool): Use the efficient head-mixing path.
            Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn

        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj_l = nn.Linear(num_heads, num_heads)
        self.proj_w = nn.Linear(num_heads, num_heads)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend over tokens.

        Args:
            x (torch.Tensor): Tokens (B, N, C).
            mask (torch.Tensor, optional): Attention mask broadcastable to
                (B, num_heads, N, N), bool keep-mask or additive; see
                :func:`~mmvitplug.layers.attend`. Defaults to None.

        Returns:
            torch.Tensor: (B, N, C).
        """
        B, N, C = x.shape
        if mask is not None:
            check_mask(mask, (B, self.num_heads, N, N))
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused_attn:
            attn = self._attn_efficient(q, k, mask)
        else:
            attn = self._attn_explicit(q, k, mask)
        if mask is not None:
            dropped = ~mask if mask.dtype == torch.bool else \
                mask == float('-inf')
            attn = attn.masked_fill(dropped, 0.)
        policy = key_policy(N)
        if policy is not None:
            attn = attn * keep_matrix(policy, N).to(attn.dtype)
        record_weights(attn)
        x = self.attn_drop(attn) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def _mix_heads(self, attn: torch.Tensor, linear: nn.Linear,
                   weight: torch.Tensor) -> torch.Tensor:
        """``weight @ attn + bias`` over the head axis of (B, H, N, M)."""
        B, H, N, M = attn.shape
        mixed = torch.baddbmm(
            linear.bias.view(1, H, 1), weight.expand(B, H, H),
            attn.reshape(B, H, N * M))
        return mixed.view(B, H, N, M)

    def _attn_efficient(self, q: torch.Tensor, k: torch.Tensor,
                        mask: Optional[torch.Tensor]) -> torch.Tensor:
        logits = q @ k.transpose(-2, -1)
        logits = self._mix_heads(logits, self.proj_l,
                                 self.proj_l.weight * self.scale)
        attn = masked_softmax(logits, mask)
        return self._mix_heads(attn, self.proj_w, self.proj_w.weight)

    def _attn_explicit(self, q: torch.Tensor, k: torch.Tensor,
                       mask: Optional[torch.Tensor]) -> torch.Tensor:
        logits = (q * self.scale) @ k.transpose(-2, -1)
        logits = self.proj_l(logits.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        attn = masked_softmax(logits, mask)
        return self.proj_w(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
