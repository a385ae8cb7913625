# Copyright (c) mmvitplug contributors.
"""LITv2: a pyramid of convolutional feed-forward blocks and HiLo attention.

`Pan et al. 2022, "Fast Vision Transformers with HiLo Attention"
<https://arxiv.org/abs/2205.13213>`_; official code: ziplab/LITv2.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import DeformableTokenMerging, DropPath, HiLoAttention
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_tokens

Size = Tuple[int, int]


class LITv2PatchEmbed(nn.Module):
    """4x4 stride-4 convolution to the first stage's channels, then a
    LayerNorm: images (B, C, H, W) -> tokens (B, H/4 * W/4, D) and their
    grid (sides rounded down, as the convolution does)."""

    def __init__(self, in_channels: int, dims: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dims, patch_size, patch_size)
        self.norm = nn.LayerNorm(dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Size]:
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), grid


class ConvFFN(nn.Module):
    """LITv2's feed-forward network: a linear layer, a 3x3 depth-wise
    convolution on the token grid, GELU, a linear layer (official
    ``DWMlp``; parameter names ``fc1``, ``dwconv.dwconv``, ``fc2``)."""

    def __init__(self, dims: int, hidden_dims: int, drop: float):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.dwconv = nn.Module()
        self.dwconv.dwconv = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        x = self.fc1(x)
        B, N, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, *grid)
        x = self.dwconv.dwconv(x).flatten(2).transpose(1, 2)
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))


class LITv2Block(nn.Module):
    """Pre-norm residual block: HiLo attention (stages with attention
    only), then the convolutional feed-forward network.

    Args:
        dims (int): Token channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden channels of the feed-forward network per
            token channel.
        window_size (int): HiLo window; 0 builds a block without attention
            (LITv2's first two stages).
        alpha (float): Share of Lo-Fi heads.
        qkv_bias (bool): Biases of the q, k, v projections.
        drop (float): Dropout after the attention and in the FFN.
        attn_drop (float): Dropout on the attention weights.
        drop_path (float): Stochastic depth of both residual branches.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float,
                 window_size: int, alpha: float, qkv_bias: bool,
                 drop: float, attn_drop: float, drop_path: float,
                 fused_attn: bool):
        super().__init__()
        if window_size > 0:
            self.norm1 = nn.LayerNorm(dims)
            self.attn = HiLoAttention(
                dims, num_heads, window_size=window_size, alpha=alpha,
                qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop,
                fused_attn=fused_attn)
        else:
            self.attn = None
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = ConvFFN(dims, int(dims * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        if self.attn is not None:
            x = x + self.drop_path(self.attn(self.norm1(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x), grid))


@MODELS.register_module()
class LITv2(VisionBackbone):
    """LITv2: a four-stage pyramid whose early stages are convolutional
    feed-forward blocks only and whose late stages add HiLo attention.

    A 4x4 patch embedding feeds stages at strides 4, 8, 16 and 32; every
    stage after the first opens with a deformable token merging (DTM: a
    2x2 stride-2 deformable convolution, BN, GELU) that doubles the
    channels. A block is a pre-norm residual HiLo attention
    (:class:`mmvitplug.layers.HiLoAttention`; stages whose
    ``window_sizes`` entry is 0 have none) and a pre-norm residual
    ConvFFN (linear, 3x3 depth-wise convolution, GELU, linear). Each
    output is normalised by its stage's LayerNorm ``norm{i}`` (the official
    detection backbone's; ``norm3`` is the classification model's final
    ``norm``); ``norm{i}`` of stage i < 3 enters between stages i and
    i + 1 (its layer depth).

    Any input of at least 32x32 works: the patch embedding and the DTMs
    round odd sides down (as the official convolutions do) and HiLo pads
    its grid to multiples of its window (as the official detection
    backbone does), so dense prediction feeds the four stage maps to an FPN
    / UPerHead at any size.

    Parameter names follow the official code inside the blocks; official
    checkpoints load after :func:`mmvitplug.converters.convert_litv2`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims`` (first stage), ``depths``, ``num_heads`` and
            ``window_sizes`` (per stage; 0: no attention) and optionally
            ``alpha`` (share of Lo-Fi heads, default 0.9) and ``mlp_ratio``
            (default 4). Defaults to 'litv2-s'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'avg_featmap' (B, C_i) means of the normalised
            tokens (classification), 'featmap' (B, C_i, H_i, W_i)
            contiguous maps, or 'raw' (B, H_i * W_i, C_i) tokens.
            Defaults to 'avg_featmap'.
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        drop_rate (float): Dropout after the attention and in the FFN.
            Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            embedding; k > 0 also the first k stages (with the output norms
            entering inside them; ``norm3`` when k == 4). Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'litv2-s':
        dict(
            embed_dims=96,
            depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24],
            window_sizes=[0, 0, 2, 1]),
        'litv2-m':
        dict(
            embed_dims=96,
            depths=[2, 2, 18, 2],
            num_heads=[3, 6, 12, 24],
            window_sizes=[0, 0, 2, 1]),
        'litv2-b':
        dict(
            embed_dims=128,
            depths=[2, 2, 18, 2],
            num_heads=[4, 8, 16, 32],
            window_sizes=[0, 0, 2, 1]),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'window_sizes')
    optional_arch_keys = ('alpha', 'mlp_ratio')
    out_types = ('avg_featmap', 'featmap', 'raw')
    num_stages_key = 'depths'
    stage_unit = 'stages'
    # stage i > 0: its token merging, then its blocks; the output norm of
    # stage i < 3 enters between stage i and stage i + 1
    parts = Parts(
        stem=('patch_embed', ),
        stages='stages',
        top=('norm3', ),
        joins=(('norm0', 'stage1_first_layer'),
               ('norm1', 'stage2_first_layer'),
               ('norm2', 'stage3_first_layer')))
    patch_size = 4

    def __init__(self,
                 arch: Union[str, dict] = 'litv2-s',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        per_stage = self.stage_settings(
            'num_heads', 'window_sizes', num_stages=4)
        depths = per_stage['depths']
        heads = per_stage['num_heads']
        windows = per_stage['window_sizes']
        dims = [settings['embed_dims'] * 2**i for i in range(len(depths))]
        self.embed_dims = dims
        self.depths = depths

        self.patch_embed = LITv2PatchEmbed(in_channels, dims[0],
                                           self.patch_size)
        rates = iter(
            drop_path_rates(drop_path_rate, sum(depths), mode='linear'))
        self.stages = nn.ModuleList()
        for i, (dim, depth, num_heads, window) in enumerate(
                zip(dims, depths, heads, windows)):
            layers = [DeformableTokenMerging(dims[i - 1], dim)] if i else []
            layers += [
                LITv2Block(
                    dim,
                    num_heads,
                    settings.get('mlp_ratio', 4.),
                    window,
                    settings.get('alpha', 0.9),
                    qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=next(rates),
                    fused_attn=fused_attn) for _ in range(depth)
            ]
            self.stages.append(nn.ModuleList(layers))
        # the output norms (official detection backbone: norm0..norm3;
        # the classification model's final norm is norm3)
        for i, dim in enumerate(dims):
            self.add_module(f'norm{i}', nn.LayerNorm(dim))
        first = 0
        for i in range(1, len(dims)):
            first += len(self.stages[i - 1])
            setattr(self, f'stage{i}_first_layer', first)

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """Patch embedding: tokens (B, H/4 * W/4, D) and their grid."""
        if min(x.shape[-2:]) < 32:
            raise ValueError(
                f'LITv2 needs images of at least 32x32 (stride 32 of the '
                f'last stage), got {x.shape[-2]}x{x.shape[-1]}')
        return self.patch_embed(x)

    def forward_stage(self, index: int, x: torch.Tensor, grid: Size):
        """The token merging (stages after the first), then the blocks."""
        layers = self._stage_layers[index]
        if index:
            x, grid = self.run_layer(layers[0], x, grid)
            layers = layers[1:]
        for block in layers:
            x = self.run_layer(block, x, grid)
        return x, grid

    def format_output(self, x: torch.Tensor, index: int, grid: Size):
        """The stage's tokens, normalised by its output norm, as
        ``out_type`` says."""
        norm = getattr(self, f'norm{index}')
        return format_tokens(norm(x), self.out_type, grid)
