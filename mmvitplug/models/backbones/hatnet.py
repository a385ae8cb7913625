# Copyright (c) mmvitplug contributors.
"""HAT-Net: hierarchical multi-head self-attention (local attention in
grids, then global attention to pooled tokens) and inverted residuals.

`Liu et al., "Vision Transformers with Hierarchical Attention"
<https://arxiv.org/abs/2106.03180>`_; official code: yun-liu/HAT-Net.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.layers import DropPath, attend
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_featmap,
                   init_conv_linear)


def _group_norm(channels: int) -> nn.GroupNorm:
    """HAT-Net's norm: one group (a LayerNorm over C, H, W), eps 1e-6."""
    return nn.GroupNorm(1, channels, eps=1e-6)


class HAttention(nn.Module):
    """H-MHSA: hierarchical multi-head self-attention on (B, C, H, W) maps.

    With ``grid_size`` g > 1, heads first attend inside non-overlapping
    g x g grid cells (``grid_x = grid_norm(x + local)``), then every token
    attends globally to the cells' average-pooled (``ds_ratio``) tokens of
    ``grid_x``; the output is ``proj(global + grid_x)``. With g == 1 it is
    plain global attention on the normalised input. q, k, v are 1x1
    convolutions; the qkv channels are ordered (3, heads, head_dim).

    Any map size works: a side not divisible by g is zero-padded for the
    local step, the padded keys masked out and the padded queries
    cropped; pooling averages the valid tokens of an edge cell
    (``ceil_mode``). At sizes the official code takes (divisible sides)
    both are exact.

    Computed through :func:`mmvitplug.layers.attend` (fused or explicit).

    Args:
        dims (int): Channels.
        head_dim (int): Channels per head; must divide ``dims``.
        grid_size (int): Side of the local grid cells; 1: global attention
            only. Defaults to 1.
        ds_ratio (int): Pooling of the keys / values of the global step.
            Defaults to 1.
        drop (float): Channel dropout after the projection. Defaults to 0.
        fused_attn (bool): Fused attention kernel. Defaults to True.
    """

    def __init__(self,
                 dims: int,
                 head_dim: int,
                 grid_size: int = 1,
                 ds_ratio: int = 1,
                 drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if dims % head_dim:
            raise ValueError(f'head_dim ({head_dim}) must divide the '
                             f'channels ({dims})')
        self.num_heads = dims // head_dim
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        self.grid_size = grid_size
        self.fused_attn = fused_attn
        self.norm = _group_norm(dims)
        self.qkv = nn.Conv2d(dims, dims * 3, 1)
        self.proj = nn.Conv2d(dims, dims, 1)
        self.drop = nn.Dropout2d(drop)
        if grid_size > 1:
            self.grid_norm = _group_norm(dims)
            self.avg_pool = nn.AvgPool2d(
                ds_ratio, stride=ds_ratio, ceil_mode=True)
            self.ds_norm = _group_norm(dims)
            self.q = nn.Conv2d(dims, dims, 1)
            self.kv = nn.Conv2d(dims, dims * 2, 1)

    def _heads(self, x: torch.Tensor, parts: int) -> torch.Tensor:
        """(B, parts * C, H, W) -> (parts, B, heads, H * W, head_dim)."""
        B = x.shape[0]
        x = x.reshape(B, parts, self.num_heads, self.head_dim, -1)
        return x.permute(1, 0, 2, 4, 3)

    def _attend(self, q, k, v, mask=None):
        return attend(
            q, k, v, scale=self.scale, mask=mask, fused=self.fused_attn)

    def local(self, qkv: torch.Tensor) -> torch.Tensor:
        """Attention inside g x g cells: qkv (B, 3C, H, W) -> (B, C, H, W).
        """
        B, _, H, W = qkv.shape
        g, heads, hd = self.grid_size, self.num_heads, self.head_dim
        pad_h, pad_w = -H % g, -W % g
        if pad_h or pad_w:
            qkv = F.pad(qkv, (0, pad_w, 0, pad_h))
        gh, gw = qkv.shape[2] // g, qkv.shape[3] // g
        qkv = qkv.reshape(B, 3, heads, hd, gh, g, gw, g)
        qkv = qkv.permute(1, 0, 2, 4, 6, 5, 7, 3)  # 3 B heads gh gw g g hd
        q, k, v = qkv.reshape(3, B, heads * gh * gw, g * g, hd)
        mask = None
        if pad_h or pad_w:
            valid = torch.zeros(
                gh * g, gw * g, dtype=torch.bool, device=qkv.device)
            valid[:H, :W] = True
            valid = valid.reshape(gh, g, gw, g).permute(0, 2, 1, 3)
            mask = valid.reshape(1, gh * gw, 1, g * g).repeat(1, heads, 1, 1)
        out = self._attend(q, k, v, mask)
        out = out.reshape(B, heads, gh, gw, g, g, hd)
        out = out.permute(0, 1, 6, 2, 4, 3, 5)
        out = out.reshape(B, heads * hd, gh * g, gw * g)
        return out[:, :, :H, :W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x))
        if self.grid_size > 1:
            grid_x = self.grid_norm(x + self.local(qkv))
            q = self._heads(self.q(grid_x), 1)[0]
            k, v = self._heads(
                self.kv(self.ds_norm(self.avg_pool(grid_x))), 2)
        else:
            q, k, v = self._heads(qkv, 3)
        out = self._attend(q, k, v).transpose(-2, -1).reshape(B, C, H, W)
        if self.grid_size > 1:
            out = out + grid_x
        return self.drop(self.proj(out))


class InvertedResidual(nn.Module):
    """HAT-Net's convolutional feed-forward: GroupNorm, 1x1 expansion, SiLU,
    k x k depth-wise convolution, SiLU, (channel dropout), 1x1 projection,
    GroupNorm, (channel dropout). Official names: ``conv1.{0: norm, 1:
    conv}``, ``conv2.0``, ``conv3.{0: conv, 1: norm}``. The SiLUs act in
    place on the convolution outputs (as officially; autograd-safe: a
    convolution does not keep its output for backward)."""

    def __init__(self, dims: int, hidden_dims: int, kernel_size: int,
                 drop: float):
        super().__init__()
        self.conv1 = nn.Sequential(
            _group_norm(dims), nn.Conv2d(dims, hidden_dims, 1, bias=False),
            nn.SiLU(inplace=True))
        self.conv2 = nn.Sequential(
            nn.Conv2d(
                hidden_dims,
                hidden_dims,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                groups=hidden_dims,
                bias=False), nn.SiLU(inplace=True))
        self.conv3 = nn.Sequential(
            nn.Conv2d(hidden_dims, dims, 1, bias=False), _group_norm(dims))
        self.drop = nn.Dropout2d(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.conv2(self.conv1(x)))
        return self.drop(self.conv3(x))


class HATBlock(nn.Module):
    """``x + H-MHSA(x)``, then ``x + InvertedResidual(x)`` (each branch with
    stochastic depth); both branches normalise their own input."""

    def __init__(self, dims: int, head_dim: int, grid_size: int,
                 ds_ratio: int, expansion: int, kernel_size: int,
                 drop: float, drop_path: float, fused_attn: bool):
        super().__init__()
        self.attn = HAttention(dims, head_dim, grid_size, ds_ratio, drop,
                               fused_attn)
        self.conv = InvertedResidual(dims, dims * expansion, kernel_size,
                                     drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(x))
        return x + self.drop_path(self.conv(x))


class Downsample(nn.Module):
    """3x3 stride-2 convolution and GroupNorm between stages."""

    def __init__(self, in_dims: int, out_dims: int):
        super().__init__()
        self.conv = nn.Conv2d(in_dims, out_dims, 3, padding=1, stride=2)
        self.norm = _group_norm(out_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


@MODELS.register_module()
class HATNet(VisionBackbone):
    """HAT-Net: a four-stage convolutional-transformer pyramid with
    hierarchical multi-head self-attention (H-MHSA).

    A stem of two 3x3 stride-2 convolutions (16 channels, GroupNorm, SiLU
    between them) feeds stages at strides 4, 8, 16 and 32; every stage
    after the first opens with a 3x3 stride-2 convolution + GroupNorm.
    A block is a residual H-MHSA (:class:`HAttention`: attention inside
    ``grid_sizes`` cells, then global attention to tokens pooled by
    ``ds_ratios``; the last stage global only) and a residual inverted
    residual (GroupNorm, 1x1, SiLU, depth-wise ``kernel_sizes``, SiLU, 1x1,
    GroupNorm). Everything runs on NCHW maps and every norm is a
    one-group GroupNorm, so the stage outputs are the maps themselves (no
    output norms).

    Any input of at least 32x32 works (the stride-2 convolutions round
    sides up); H-MHSA pads cells at map sides its grid does not divide
    (the official code accepts only divisible sides, e.g. 224) and masks
    the padding, so dense prediction feeds the four stage maps to an FPN /
    UPerHead at any size. The official model creates an output norm
    ``attn.proj_norm`` in each block that its forward never uses; it is
    not built here, and the converter drops it from official checkpoints.

    Official checkpoints load after
    :func:`mmvitplug.converters.convert_hatnet`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``depths``, ``expansions``, ``grid_sizes``,
            ``ds_ratios`` and ``kernel_sizes`` (per stage) and ``head_dim``.
            Defaults to 'hatnet-t'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'avg_featmap' (B, C_i) spatial means
            (classification), 'featmap' (B, C_i, H_i, W_i) maps.
            Defaults to 'avg_featmap'.
        drop_rate (float): Channel dropout after the attention projection
            and in the inverted residuals. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages. Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'hatnet-t':
        dict(
            embed_dims=[48, 96, 240, 384],
            head_dim=48,
            depths=[2, 2, 6, 3],
            expansions=[8, 8, 4, 4],
            grid_sizes=[8, 7, 7, 1],
            ds_ratios=[8, 4, 2, 1],
            kernel_sizes=[3, 3, 3, 3]),
        'hatnet-s':
        dict(
            embed_dims=[64, 128, 320, 512],
            head_dim=64,
            depths=[2, 3, 8, 3],
            expansions=[8, 8, 4, 4],
            grid_sizes=[8, 7, 7, 1],
            ds_ratios=[8, 4, 2, 1],
            kernel_sizes=[3, 3, 3, 3]),
        'hatnet-m':
        dict(
            embed_dims=[64, 128, 320, 512],
            head_dim=64,
            depths=[3, 6, 18, 3],
            expansions=[8, 8, 4, 4],
            grid_sizes=[8, 7, 7, 1],
            ds_ratios=[8, 4, 2, 1],
            kernel_sizes=[5, 3, 5, 3]),
        'hatnet-l':
        dict(
            embed_dims=[64, 128, 320, 640],
            head_dim=64,
            depths=[3, 8, 27, 3],
            expansions=[8, 8, 4, 4],
            grid_sizes=[8, 7, 7, 1],
            ds_ratios=[8, 4, 2, 1],
            kernel_sizes=[3, 3, 3, 3]),
    }
    arch_keys = ('embed_dims', 'head_dim', 'depths', 'expansions',
                 'grid_sizes', 'ds_ratios', 'kernel_sizes')
    out_types = ('avg_featmap', 'featmap')
    num_stages_key = 'depths'
    stage_unit = 'stages'
    # stage i > 0: its downsampling convolution, then its blocks
    parts = Parts(stem=('patch_embed', ), stages='stages')
    patch_size = 4

    def __init__(self,
                 arch: Union[str, dict] = 'hatnet-t',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        per_stage = self.stage_settings(
            'embed_dims', 'expansions', 'grid_sizes', 'ds_ratios',
            'kernel_sizes', num_stages=4)
        depths = per_stage['depths']
        dims = per_stage['embed_dims']
        self.embed_dims = dims
        self.depths = depths

        self.patch_embed = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1, stride=2),
            _group_norm(16), nn.SiLU(inplace=True),
            nn.Conv2d(16, dims[0], 3, padding=1, stride=2))
        rates = iter(
            drop_path_rates(drop_path_rate, sum(depths), mode='linear'))
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            layers = [Downsample(dims[i - 1], dims[i])] if i else []
            layers += [
                HATBlock(
                    dims[i],
                    settings['head_dim'],
                    per_stage['grid_sizes'][i],
                    per_stage['ds_ratios'][i],
                    per_stage['expansions'][i],
                    per_stage['kernel_sizes'][i],
                    drop=drop_rate,
                    drop_path=next(rates),
                    fused_attn=fused_attn) for _ in range(depth)
            ]
            self.stages.append(nn.ModuleList(layers))

    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02) for
        linear and convolution weights, zero biases, unit norms."""
        self.apply(init_conv_linear)
        for m in self.modules():
            if isinstance(m, nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, None]:
        """The stem: images -> (B, C_0, H/4, W/4) maps."""
        if min(x.shape[-2:]) < 32:
            raise ValueError(
                f'HATNet needs images of at least 32x32 (stride 32 of the '
                f'last stage), got {x.shape[-2]}x{x.shape[-1]}')
        return self.patch_embed(x), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """The stage's map, or its spatial mean."""
        return format_featmap(x, self.out_type)
