# Copyright (c) mmvitplug contributors.
"""Pre-norm transformer encoder block."""
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn as nn

from .attention import Attention
from .drop import DropPath
from .layer_scale import LayerScale
from .mlp import Mlp


class Block(nn.Module):
    """Pre-norm ViT block: attention and MLP residual branches.

    Children follow the timm / official DeiT names (``norm1``, ``attn.qkv``,
    ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``) so checkpoints map
    one to one; ``ls1``/``ls2`` hold `CaiT <https://arxiv.org/abs/2103.17239>`_
    layer-scale when ``init_values`` is given.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``.
            Defaults to 4.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        drop (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on attention weights. Defaults to 0.
        drop_path (float): Stochastic-depth rate of both branches.
            Defaults to 0.
        init_values (float, optional): Layer-scale initial value; None
            disables layer-scale. Defaults to None.
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
                 init_values: Optional[float] = None,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 norm_layer: Callable[[int], nn.Module] = partial(
                     nn.LayerNorm, eps=1e-6),
                 fused_attn: bool = True):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.ls1 = LayerScale(dim, init_values) if init_values else \
            nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(
            dim,
            hidden_features=round(dim * mlp_ratio),
            act_layer=act_layer,
            drop=drop)
        self.ls2 = LayerScale(dim, init_values) if init_values else \
            nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform tokens of shape (B, N, C)."""
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x
