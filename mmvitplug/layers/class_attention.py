# Copyright (c) mmvitplug contributors.
"""Class attention and the class-token block.

From `CaiT <https://arxiv.org/abs/2103.17239>`_; the same layer is
PatchConvNet's attention-based aggregation
(`PatchConvNet <https://arxiv.org/abs/2112.13692>`_), with several class
tokens in its multi-class-token variant.
"""
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn as nn

from .attention import attend
from .drop import DropPath
from .mlp import Mlp


class ClassAttention(nn.Module):
    """Multi-head attention in which only the leading (class) tokens query.

    The first ``num_queries`` tokens of ``x`` (class tokens) are the queries
    and the only tokens updated; keys and values are computed from all
    tokens ``[cls, patches]`` when ``keys_include_queries`` (CaiT's class
    attention, PatchConvNet's single-class-token aggregation) or from the
    remaining (patch) tokens only (PatchConvNet's multi-class-token
    aggregation, where each class token sees the patches and not the other
    class tokens). The cost is linear in the number of tokens. It is also
    called attention pooling: the class tokens are learned queries that
    aggregate the patches. Child names follow timm / official CaiT and
    PatchConvNet (``q``, ``k``, ``v``, ``proj``).

    Computed by :func:`~mmvitplug.layers.attend`: the fused path calls
    :func:`torch.nn.functional.scaled_dot_product_attention`, the explicit
    path materialises ``softmax(q k^T * scale)``. Both compute the same
    function.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``. Defaults to 8.
        num_queries (int): Number Q of leading query (class) tokens.
            Defaults to 1.
        keys_include_queries (bool): Whether the query tokens are also keys
            and values. Defaults to True.
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

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Update the query (class) tokens.

        Args:
            x (torch.Tensor): Tokens (B, Q + N, C), the Q query tokens
                first; N >= 1.
            mask (torch.Tensor, optional): Attention mask broadcastable to
                (B, num_heads, Q, Nk) over the keys, Nk = Q + N with
                ``keys_include_queries`` (keys in the order of ``x``), else
                N (the patches only); bool keep-mask or additive, see
                :func:`~mmvitplug.layers.attend`. Defaults to None.

        Returns:
            torch.Tensor: The attention output of the query tokens
            (B, Q, C).
        """
        B, N, C = x.shape
        Q = self.num_queries
        if N <= Q:
            raise ValueError(f'{type(self).__name__} needs more than '
                             f'num_queries ({Q}) tokens, got {N}')
        kv = x if self.keys_include_queries else x[:, Q:]
        q = self._heads(self.q(x[:, :Q]))
        k = self._heads(self.k(kv))
        v = self._heads(self.v(kv))
        x = attend(
            q, k, v,
            scale=self.scale,
            mask=mask,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        x = x.transpose(1, 2).reshape(B, Q, C)
        return self.proj_drop(self.proj(x))


class ClassAttentionBlock(nn.Module):
    """Class-token block: class attention and an MLP update the class tokens.

    The class tokens ``x_cls`` (B, Q, C) are updated; the patch tokens ``x``
    are read, not changed::

        cls = cls + drop_path(gamma_1 * attn(norm1([cls, x])))
        cls = cls + drop_path(gamma_2 * mlp(norm2(cls)))

    It is CaiT's class-attention block (``num_queries=1``,
    ``keys_include_queries=True``) and PatchConvNet's aggregation block
    (no drop path, ``mlp_hidden_features=int(dim * mlp_ratio)``; with
    several class tokens ``keys_include_queries=False``). Children /
    parameters follow timm / the official code (``norm1``,
    ``attn.{q,k,v,proj}``, ``gamma_1``, ``norm2``, ``mlp.fc1``,
    ``mlp.fc2``, ``gamma_2``).

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``, rounded
            to the nearest integer (CaiT). Defaults to 4.
        mlp_hidden_features (int, optional): MLP hidden size; overrides
            ``mlp_ratio`` (PatchConvNet truncates: ``int(dim * ratio)``).
            Defaults to None.
        num_queries (int): Number of class tokens Q. Defaults to 1.
        keys_include_queries (bool): Whether the class tokens are also keys
            and values of the attention. Defaults to True.
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
                 mlp_hidden_features: Optional[int] = None,
                 num_queries: int = 1,
                 keys_include_queries: bool = True,
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
        if mlp_hidden_features is None:
            mlp_hidden_features = round(dim * mlp_ratio)
        if mlp_hidden_features < 1:
            raise ValueError('the MLP needs at least one hidden feature, got '
                             f'{mlp_hidden_features} (dim {dim}, mlp_ratio '
                             f'{mlp_ratio})')
        self.num_queries = num_queries
        self.norm1 = norm_layer(dim)
        self.attn = ClassAttention(
            dim,
            num_heads=num_heads,
            num_queries=num_queries,
            keys_include_queries=keys_include_queries,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(
            dim,
            hidden_features=mlp_hidden_features,
            act_layer=act_layer,
            drop=drop)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma_2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self,
                x: torch.Tensor,
                x_cls: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Update the class tokens.

        Args:
            x (torch.Tensor): Patch tokens (B, N, C).
            x_cls (torch.Tensor): Class tokens (B, Q, C).
            mask (torch.Tensor, optional): Attention mask over the keys
                (``[x_cls, x]`` or ``x`` alone, see
                :meth:`ClassAttention.forward`). Defaults to None.

        Returns:
            torch.Tensor: The updated class tokens (B, Q, C).
        """
        if x_cls.shape[1] != self.num_queries:
            raise ValueError(
                f'{type(self).__name__} was built for {self.num_queries} '
                f'class token(s), got x_cls of shape {tuple(x_cls.shape)}')
        u = torch.cat((x_cls, x), dim=1)
        x_cls = x_cls + self.drop_path(
            self.gamma_1 * self.attn(self.norm1(u), mask=mask))
        x_cls = x_cls + self.drop_path(
            self.gamma_2 * self.mlp(self.norm2(x_cls)))
        return x_cls
