# Copyright (c) mmvitplug contributors.
"""Class attention and the class-attention block.

From `CaiT <https://arxiv.org/abs/2103.17239>`_.
"""
from functools import partial
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .drop import DropPath
from .mlp import Mlp


class ClassAttention(nn.Module):
    """Multi-head attention in which only the class token queries.

    The class token (first token of ``x``) attends over all tokens
    ``[cls, patches]``; the patch tokens are keys and values only, so the
    cost is linear in the number of tokens. Child names follow timm /
    official CaiT (``q``, ``k``, ``v``, ``proj``).

    The fused path calls
    :func:`torch.nn.functional.scaled_dot_product_attention` with a single
    query; the explicit path materialises ``softmax(q k^T * scale)``. Both
    compute the same function.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Add a bias to the q, k and v projections.
            Defaults to True.
        attn_drop (float): Dropout rate on the attention weights.
            Defaults to 0.
        proj_drop (float): Dropout rate after the output projection.
            Defaults to 0.
        fused_attn (bool): Use the fused kernel. Defaults to True.
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
        """Update the class token.

        Args:
            x (torch.Tensor): Tokens (B, 1 + N, C), class token first.

        Returns:
            torch.Tensor: The attention output of the class token (B, 1, C).
        """
        B, _, C = x.shape
        q = self._heads(self.q(x[:, :1]))
        k, v = self._heads(self.k(x)), self._heads(self.v(x))
        if self.fused_attn:
            x_cls = F.scaled_dot_product_attention(
                q, k, v,
                dropout_p=self.attn_drop.p if self.training else 0.)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            attn = self.attn_drop(attn.softmax(dim=-1))
            x_cls = attn @ v
        x_cls = x_cls.transpose(1, 2).reshape(B, 1, C)
        return self.proj_drop(self.proj(x_cls))


class ClassAttentionBlock(nn.Module):
    """Class-attention block with LayerScale.

    Updates the class token only; the patch tokens pass unchanged::

        cls = cls + drop_path(gamma_1 * attn(norm1([cls, patches])))
        cls = cls + drop_path(gamma_2 * mlp(norm2(cls)))

    Children / parameters follow timm / official CaiT (``norm1``,
    ``attn.{q,k,v,proj}``, ``gamma_1``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
    ``gamma_2``).

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``.
            Defaults to 4.
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        drop (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on attention weights. Defaults to 0.
        drop_path (float): Stochastic-depth rate of both branches.
            Defaults to 0.
        init_values (float): Initial value of the LayerScale vectors
            ``gamma_1`` and ``gamma_2``. Defaults to 1e-5.
        act_layer (Callable[[], nn.Module]): MLP activation.
            Defaults to :class:`torch.nn.GELU`.
        norm_layer (Callable[[int], nn.Module]): Norm constructor.
            Defaults to ``nn.LayerNorm`` with ``eps=1e-6``.
        fused_attn (bool): Fused attention kernel. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 init_values: float = 1e-5,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 norm_layer: Callable[[int], nn.Module] = partial(
                     nn.LayerNorm, eps=1e-6),
                 fused_attn: bool = True):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = ClassAttention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(
            dim,
            hidden_features=round(dim * mlp_ratio),
            act_layer=act_layer,
            drop=drop)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma_2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self, x: torch.Tensor, x_cls: torch.Tensor) -> torch.Tensor:
        """Update the class token.

        Args:
            x (torch.Tensor): Patch tokens (B, N, C).
            x_cls (torch.Tensor): Class token (B, 1, C).

        Returns:
            torch.Tensor: The updated class token (B, 1, C).
        """
        u = torch.cat((x_cls, x), dim=1)
        x_cls = x_cls + self.drop_path(self.gamma_1 * self.attn(self.norm1(u)))
        x_cls = x_cls + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x_cls)))
        return x_cls
