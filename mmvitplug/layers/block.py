# Copyright (c) mmvitplug contributors.
"""Pre-norm transformer encoder block with pluggable sub-layers."""
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn as nn

from .attention import Attention
from .drop import DropPath
from .layer_scale import LayerScale
from .mlp import Mlp


class Block(nn.Module):
    """Pre-norm transformer block: attention and MLP residual branches::

        x = x + drop_path1(ls1(attn(norm1(x))))
        x = x + drop_path2(ls2(mlp(norm2(x))))

    The attention, MLP and layer-scale are pluggable constructors, as in
    `timm <https://github.com/huggingface/pytorch-image-models>`_ and
    `DINOv2 <https://arxiv.org/abs/2304.07193>`_: the defaults give the
    `ViT <https://arxiv.org/abs/2010.11929>`_ / DeiT block,
    ``attn_layer=TalkingHeadsAttention`` with ``init_values`` gives CaiT's
    self-attention block. They are called as::

        attn_layer(dim, num_heads=num_heads, qkv_bias=qkv_bias,
                   attn_drop=attn_drop, proj_drop=drop,
                   fused_attn=fused_attn)
        mlp_layer(in_features=dim, hidden_features=round(dim * mlp_ratio),
                  act_layer=act_layer, drop=drop)
        ls_layer(dim, init_values=init_values)  # only when init_values

    Children follow the timm / official DeiT names (``norm1``, ``attn.*``,
    ``ls1.gamma``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``, ``ls2.gamma``) so
    checkpoints map one to one.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``, rounded
            to the nearest integer. Defaults to 4.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        drop (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on attention weights. Defaults to 0.
        drop_path (float): Stochastic-depth rate of both branches.
            Defaults to 0.
        init_values (float, optional): Layer-scale initial value
            (`CaiT <https://arxiv.org/abs/2103.17239>`_); None (or 0)
            disables layer-scale. Defaults to None.
        act_layer (Callable[[], nn.Module]): MLP activation.
            Defaults to :class:`torch.nn.GELU`.
        norm_layer (Callable[[int], nn.Module]): Norm constructor.
            Defaults to ``nn.LayerNorm`` with ``eps=1e-6``.
        fused_attn (bool): Fused attention path. Defaults to True.
        attn_layer (Callable[..., nn.Module]): Attention constructor.
            Defaults to :class:`~mmvitplug.layers.Attention`.
        mlp_layer (Callable[..., nn.Module]): MLP constructor.
            Defaults to :class:`~mmvitplug.layers.Mlp`.
        ls_layer (Callable[..., nn.Module]): Layer-scale constructor, used
            when ``init_values`` is set. Defaults to
            :class:`~mmvitplug.layers.LayerScale`.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 init_values: Optional[float] = None,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 norm_layer: Callable[[int], nn.Module] = partial(
                     nn.LayerNorm, eps=1e-6),
                 fused_attn: bool = True,
                 attn_layer: Callable[..., nn.Module] = Attention,
                 mlp_layer: Callable[..., nn.Module] = Mlp,
                 ls_layer: Callable[..., nn.Module] = LayerScale):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.ls1 = ls_layer(dim, init_values=init_values) if init_values \
            else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

        self.norm2 = norm_layer(dim)
        self.mlp = mlp_layer(
            in_features=dim,
            hidden_features=round(dim * mlp_ratio),
            act_layer=act_layer,
            drop=drop)
        self.ls2 = ls_layer(dim, init_values=init_values) if init_values \
            else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Transform tokens.

        Args:
            x (torch.Tensor): Tokens (B, N, C).
            mask (torch.Tensor, optional): Attention mask passed to
                ``attn`` as ``attn(x, mask=mask)`` (see
                :func:`~mmvitplug.layers.attend`); when None ``attn`` is
                called with ``x`` alone. Defaults to None.

        Returns:
            torch.Tensor: (B, N, C).
        """
        y = self.norm1(x)
        y = self.attn(y) if mask is None else self.attn(y, mask=mask)
        x = x + self.drop_path1(self.ls1(y))
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x
