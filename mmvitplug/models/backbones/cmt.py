# Copyright (c) mmvitplug contributors.
"""CMT backbone.

`Guo et al. 2022, "CMT: Convolutional Neural Networks Meet Vision
Transformers" <https://arxiv.org/abs/2107.06263>`_.
"""
import math
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import DropPath, attend, tokens_to_featmap
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates

Size = Tuple[int, int]


def resize_attention_bias(bias: torch.Tensor,
                          src_grid: Size,
                          src_kv_grid: Size,
                          dst_grid: Size,
                          dst_kv_grid: Size,
                          mode: str = 'bicubic') -> torch.Tensor:
    """Resize a dense attention bias (heads, Nq, Nk) to other grids.

    CMT learns one bias per (head, query position, key position) for the
    training resolution. Both position axes are resized as 2-D maps: the
    key axis as ``heads * Nq`` maps over the key grid, then the query axis
    as ``heads * Nk`` maps over the query grid (the two separable resizes
    commute). Computed in float32 with ``align_corners=False``.

    Args:
        bias (torch.Tensor): (heads, Hq * Wq, Hk * Wk), both axes row-major.
        src_grid (tuple[int, int]): Query grid (Hq, Wq) of ``bias``.
        src_kv_grid (tuple[int, int]): Key grid (Hk, Wk) of ``bias``.
        dst_grid (tuple[int, int]): Wanted query grid.
        dst_kv_grid (tuple[int, int]): Wanted key grid.
        mode (str): Mode of :func:`torch.nn.functional.interpolate`.
            Defaults to 'bicubic'.

    Returns:
        torch.Tensor: (heads, Hq' * Wq', Hk' * Wk') in ``bias``'s dtype;
        ``bias`` itself when the grids are equal.
    """
    src_grid, src_kv_grid = tuple(src_grid), tuple(src_kv_grid)
    dst_grid, dst_kv_grid = tuple(dst_grid), tuple(dst_kv_grid)
    heads, nq, nk = bias.shape
    if nq != src_grid[0] * src_grid[1] or nk != src_kv_grid[0] * \
            src_kv_grid[1]:
        raise ValueError(
            f'attention bias of shape {tuple(bias.shape)} does not match '
            f'the {src_grid[0]}x{src_grid[1]} query and '
            f'{src_kv_grid[0]}x{src_kv_grid[1]} key grids')
    if (src_grid, src_kv_grid) == (dst_grid, dst_kv_grid):
        return bias
    align = False if mode in ('bilinear', 'bicubic') else None
    out = bias.float()
    if src_kv_grid != dst_kv_grid:
        out = F.interpolate(
            out.reshape(1, heads * nq, *src_kv_grid),
            size=dst_kv_grid,
            mode=mode,
            align_corners=align)
        nk = dst_kv_grid[0] * dst_kv_grid[1]
        out = out.reshape(heads, nq, nk)
    if src_grid != dst_grid:
        out = out.transpose(1, 2).reshape(1, heads * nk, *src_grid)
        out = F.interpolate(
            out, size=dst_grid, mode=mode, align_corners=align)
        out = out.reshape(heads, nk, -1).transpose(1, 2)
    return out.contiguous().to(bias.dtype)


class CMTStem(nn.Module):
    """CMT stem: a stride-2 3x3 conv and two 3x3 convs, each followed by
    GELU then BN (the official order).

    Args:
        in_channels (int): Image channels.
        channels (int): Output channels.
        norm_cfg (dict): Config of the norms.
    """

    def __init__(self, in_channels: int, channels: int, norm_cfg: dict):
        super().__init__()
        for i in (1, 2, 3):
            conv = nn.Conv2d(
                in_channels if i == 1 else channels,
                channels,
                3,
                stride=2 if i == 1 else 1,
                padding=1)
            self.add_module(f'conv{i}', conv)
            self.add_module(f'act{i}', nn.GELU())
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg,
                                                         channels)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, channels, H/2, W/2) maps."""
        for i in (1, 2, 3):
            x = getattr(self, f'norm{i}')(getattr(self, f'act{i}')(getattr(
                self, f'conv{i}')(x)))
        return x


class CMTPatchEmbed(nn.Module):
    """A stage's patch embedding (2x2 stride-2 conv + LayerNorm) and the
    stage's learned relative position bias.

    The bias (``relative_pos``, one value per head, query position and
    key position of the training resolution) is shared by every block of
    the stage; this layer resizes it to the grid of the current input and
    hands it to the blocks.

    Args:
        in_dims (int): Input channels.
        dims (int): Output channels.
        num_heads (int): Attention heads of the stage's blocks.
        grid (tuple[int, int]): Output grid at the training resolution.
        sr_ratio (int): Key / value reduction of the stage's attention.
        interpolate_mode (str): How the bias is resized.
    """

    def __init__(self, in_dims: int, dims: int, num_heads: int, grid: Size,
                 sr_ratio: int, interpolate_mode: str):
        super().__init__()
        self.proj = nn.Conv2d(in_dims, dims, kernel_size=2, stride=2)
        self.norm = nn.LayerNorm(dims)
        self.sr_ratio = sr_ratio
        self.grid = tuple(grid)
        self.kv_grid = (grid[0] // sr_ratio, grid[1] // sr_ratio)
        self.interpolate_mode = interpolate_mode
        self.relative_pos = nn.Parameter(
            torch.zeros(num_heads, grid[0] * grid[1],
                        self.kv_grid[0] * self.kv_grid[1]))

    def position_bias(self, grid: Size) -> torch.Tensor:
        """The bias (1, heads, H * W, H/sr * W/sr) of a (H, W) grid."""
        kv_grid = (grid[0] // self.sr_ratio, grid[1] // self.sr_ratio)
        bias = resize_attention_bias(self.relative_pos, self.grid,
                                     self.kv_grid, grid, kv_grid,
                                     self.interpolate_mode)
        return bias.unsqueeze(0)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) maps -> tokens (B, H/2 * W/2, dims) and the stage's
        position bias for the (H/2, W/2) grid."""
        x = self.proj(x)
        grid = tuple(x.shape[-2:])
        x = self.norm(x.flatten(2).transpose(1, 2))
        return x, self.position_bias(grid)


class CMTAttention(nn.Module):
    """CMT's lightweight multi-head self-attention.

    Keys and values come from the tokens reduced ``sr_ratio`` times by a
    depthwise ``sr_ratio`` x ``sr_ratio`` stride-``sr_ratio`` conv and a
    norm; the stage's relative position bias is added to the logits.

    Args:
        dim (int): Token dimension.
        num_heads (int): Heads; must divide ``dim // qk_ratio``.
        qkv_bias (bool): Bias in the q, k, v projections.
        qk_ratio (int): Query / key dimension is ``dim // qk_ratio``.
        sr_ratio (int): Spatial reduction of keys and values.
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        norm_cfg (dict): Config of the reduction's norm.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool,
                 qk_ratio: int, sr_ratio: int, attn_drop: float,
                 proj_drop: float, norm_cfg: dict, fused_attn: bool):
        super().__init__()
        qk_dim = dim // qk_ratio
        if qk_dim % num_heads or dim % num_heads:
            raise ValueError(
                f'num_heads ({num_heads}) must divide the token dimension '
                f'({dim}) and the query/key dimension dim // qk_ratio '
                f'({qk_dim})')
        self.num_heads = num_heads
        self.qk_head_dim = qk_dim // num_heads
        self.scale = (dim // num_heads)**-0.5  # as the official code
        self.fused_attn = fused_attn
        self.q = nn.Linear(dim, qk_dim, bias=qkv_bias)
        self.k = nn.Linear(dim, qk_dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Sequential(
                nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio, groups=dim),
                build_norm_layer(norm_cfg, dim)[1])

    def forward(self, x: torch.Tensor, grid: Size,
                bias: torch.Tensor) -> torch.Tensor:
        """Attend over tokens (B, N, C) of a ``grid`` with the position
        ``bias`` (1, heads, N, Nk)."""
        B, N, C = x.shape
        h = self.num_heads
        q = self.q(x).reshape(B, N, h, -1).transpose(1, 2)
        if self.sr_ratio > 1:
            kv = self.sr(x.transpose(1, 2).reshape(B, C, *grid))
            kv = kv.flatten(2).transpose(1, 2)
        else:
            kv = x
        k = self.k(kv).reshape(B, -1, h, self.qk_head_dim).transpose(1, 2)
        v = self.v(kv).reshape(B, -1, h, C // h).transpose(1, 2)
        x = attend(
            q, k, v,
            scale=self.scale,
            mask=bias,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class IRFFN(nn.Module):
    """CMT's inverted residual feed-forward network.

    1x1 conv, GELU, norm; a residual depthwise 3x3 conv, GELU, norm; 1x1
    conv, norm. Sub-module names follow the official ``Mlp``.

    Args:
        dim (int): Token dimension.
        hidden_dims (int): Hidden channels.
        drop (float): Dropout after the expansion and at the end.
        norm_cfg (dict): Config of the norms.
    """

    def __init__(self, dim: int, hidden_dims: int, drop: float,
                 norm_cfg: dict):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(dim, hidden_dims, 1), nn.GELU(),
            build_norm_layer(norm_cfg, hidden_dims)[1])
        self.proj = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.proj_act = nn.GELU()
        self.proj_bn = build_norm_layer(norm_cfg, hidden_dims)[1]
        self.conv2 = nn.Sequential(
            nn.Conv2d(hidden_dims, dim, 1),
            build_norm_layer(norm_cfg, dim)[1])
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        """Tokens (B, N, C) of a ``grid`` -> (B, N, C)."""
        B, N, C = x.shape
        x = self.drop(self.conv1(x.transpose(1, 2).reshape(B, C, *grid)))
        x = self.proj_bn(self.proj_act(self.proj(x) + x))
        return self.drop(self.conv2(x).flatten(2).transpose(1, 2))


class CMTBlock(nn.Module):
    """CMT block: local perception unit (``x + dwconv3x3(x)``), then the
    lightweight attention and the IRFFN, each pre-norm and residual.

    Args:
        dim (int): Token dimension.
        num_heads (int): Attention heads.
        mlp_ratio (float): IRFFN hidden channels are ``int(dim *
            mlp_ratio)``.
        qkv_bias (bool): Bias in the q, k, v projections.
        qk_ratio (int): Query / key dimension is ``dim // qk_ratio``.
        sr_ratio (int): Spatial reduction of keys and values.
        drop (float): Dropout rate after the attention and in the IRFFN.
        attn_drop (float): Dropout on the attention weights.
        drop_path (float): Stochastic-depth rate.
        norm_cfg (dict): Config of the convolutional norms.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, qk_ratio: int, sr_ratio: int, drop: float,
                 attn_drop: float, drop_path: float, norm_cfg: dict,
                 fused_attn: bool):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = CMTAttention(dim, num_heads, qkv_bias, qk_ratio,
                                 sr_ratio, attn_drop, drop, norm_cfg,
                                 fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = IRFFN(dim, int(dim * mlp_ratio), drop, norm_cfg)

    def forward(self, x: torch.Tensor, grid: Size,
                bias: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, C) of a ``grid`` -> (B, N, C)."""
        B, N, C = x.shape
        cnn = x.transpose(1, 2).reshape(B, C, *grid)
        x = (self.proj(cnn) + cnn).flatten(2).transpose(1, 2)
        x = x + self.drop_path(self.attn(self.norm1(x), grid, bias))
        return x + self.drop_path(self.mlp(self.norm2(x), grid))


class CMTPreLogits(nn.Module):
    """CMT's classification features: 1x1 conv, norm, Swish, global
    average pooling, dropout.

    Args:
        in_dims (int): Channels of the last stage.
        dims (int): Output features.
        drop (float): Dropout rate on the pooled features.
        norm_cfg (dict): Config of the norm.
    """

    def __init__(self, in_dims: int, dims: int, drop: float,
                 norm_cfg: dict):
        super().__init__()
        self.conv = nn.Conv2d(in_dims, dims, 1)
        self.norm = build_norm_layer(norm_cfg, dims)[1]
        self.act = nn.SiLU()
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) maps -> (B, dims) features."""
        x = self.act(self.norm(self.conv(x)))
        return self.drop(x.mean((2, 3)))


def _pair(size: Union[int, Sequence[int]]) -> Size:
    if isinstance(size, int):
        return size, size
    return tuple(size)


@MODELS.register_module()
class CMT(VisionBackbone):
    """CMT: a hybrid pyramid of convolutions and lightweight attention.

    A convolutional stem (stride 2) feeds four stages at strides 4, 8, 16
    and 32; each opens with a 2x2 stride-2 patch embedding and stacks CMT
    blocks: a local perception unit (residual depthwise 3x3 conv), a
    lightweight multi-head self-attention whose keys and values are
    reduced ``sr_ratio`` times by a depthwise conv and whose logits get a
    learned relative position bias, and an inverted residual feed-forward
    network (`CMT <https://arxiv.org/abs/2107.06263>`_). For
    classification (``out_type='pre_logits'``) a 1x1 conv to ``head_dims``
    channels, a norm, Swish, global average pooling and dropout follow;
    the classifier's linear layer is an mmpretrain ``LinearClsHead`` with
    ``in_channels=head_dims``.

    The position bias of a stage is learned for the grid of the training
    resolution ``img_size`` (one value per head, query position and key
    position) and resized to the input's grids on the fly (both axes as
    2-D maps, :func:`resize_attention_bias`), so any input whose height and
    width are multiples of 32 works: dense prediction feeds the four stage
    maps to an FPN / UPerHead. Checkpoints made for another ``img_size``
    are resized when loaded by ``init_cfg=dict(type='Pretrained', ...)``.

    Parameter names follow the official code inside the blocks; official
    checkpoints load after :func:`mmvitplug.converters.convert_cmt`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``depths``, ``num_heads`` (per stage),
            ``mlp_ratio``, ``stem_channels`` and optionally ``sr_ratios``
            (default [8, 4, 2, 1]), ``qk_ratio`` (default 1), ``img_size``
            (the training resolution, default 224) and ``head_drop_rate``
            (default 0.1). Defaults to 'cmt-s'.
        img_size (int | tuple[int, int], optional): The resolution the
            position biases are learned for, a multiple of 32. Defaults to
            None: the arch's training resolution (160 / 192 / 224 / 256 for
            cmt-ti / xs / s / b).
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'pre_logits' — the classification features
            (B, head_dims) after the last stage —, 'featmap' (B, C_i,
            H/s_i, W/s_i) contiguous maps, 'avg_featmap' (B, C_i) spatial
            means, or 'raw' (B, H/s_i * W/s_i, C_i) tokens.
            Defaults to 'pre_logits'.
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        head_dims (int): Channels of the classification features.
            Defaults to 1280.
        head_drop_rate (float, optional): Dropout on the classification
            features. Defaults to None: the arch's (0.1, 0.3 for cmt-b).
        drop_rate (float): Dropout after the attention and in the IRFFN.
            Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate. Defaults to 0.
        norm_cfg (dict): Config of the convolutional norms (stem, key /
            value reduction, IRFFN, classification features); the token
            norms are LayerNorms. Defaults to ``dict(type='BN')``.
        interpolate_mode (str): How position biases are resized.
            Defaults to 'bicubic'.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages (and the classification features when
            k == 4). Frozen parts stay in eval mode. Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'cmt-ti':
        dict(
            embed_dims=[46, 92, 184, 368],
            depths=[2, 2, 10, 2],
            num_heads=[1, 2, 4, 8],
            mlp_ratio=3.6,
            stem_channels=16,
            img_size=160),
        'cmt-xs':
        dict(
            embed_dims=[52, 104, 208, 416],
            depths=[3, 3, 12, 3],
            num_heads=[1, 2, 4, 8],
            mlp_ratio=3.77,
            stem_channels=16,
            img_size=192),
        'cmt-s':
        dict(
            embed_dims=[64, 128, 256, 512],
            depths=[3, 3, 16, 3],
            num_heads=[1, 2, 4, 8],
            mlp_ratio=4.,
            stem_channels=32,
            img_size=224),
        'cmt-b':
        dict(
            embed_dims=[76, 152, 304, 608],
            depths=[4, 4, 20, 4],
            num_heads=[1, 2, 4, 8],
            mlp_ratio=4.,
            stem_channels=38,
            img_size=256,
            head_drop_rate=0.3),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratio',
                 'stem_channels')
    optional_arch_keys = ('sr_ratios', 'qk_ratio', 'img_size',
                          'head_drop_rate')
    out_types = ('pre_logits', 'featmap', 'avg_featmap', 'raw')
    final_only_out_types = {
        'pre_logits': 'the classification features follow the last stage'
    }
    num_stages_key = 'depths'
    stage_unit = 'stages'
    # stage i: its patch embedding (which owns the stage's position bias),
    # then its blocks
    parts = Parts(stem=('stem', ), stages='stages', top=('pre_logits', ))

    def __init__(self,
                 arch: Union[str, dict] = 'cmt-s',
                 img_size: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'pre_logits',
                 qkv_bias: bool = True,
                 head_dims: int = 1280,
                 head_drop_rate: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 interpolate_mode: str = 'bicubic',
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        per_stage = self.stage_settings(
            'embed_dims', 'num_heads', 'sr_ratios',
            defaults=dict(sr_ratios=[8, 4, 2, 1]))
        dims = per_stage['embed_dims']
        depths = per_stage['depths']
        heads = per_stage['num_heads']
        sr_ratios = per_stage['sr_ratios']
        self.embed_dims = dims
        self.depths = depths
        self.patch_size = 4  # stride of the first stage
        # every stage's grid and key / value grid must be exact
        self.size_divisor = math.lcm(
            *[2**(i + 2) * sr for i, sr in enumerate(sr_ratios)])
        self.size_divisor = math.lcm(self.size_divisor, 2**(len(depths) + 1))
        if img_size is None:
            img_size = settings.get('img_size', 224)
        self.img_size = _pair(img_size)
        self._check_size(self.img_size, 'img_size')
        if head_drop_rate is None:
            head_drop_rate = settings.get('head_drop_rate', 0.1)
        self.interpolate_mode = interpolate_mode

        self.stem = CMTStem(in_channels, settings['stem_channels'], norm_cfg)
        rates = iter(
            drop_path_rates(drop_path_rate, sum(depths), mode='linear'))
        self.stages = nn.ModuleList()
        in_dims = settings['stem_channels']
        for i, (dim, depth, num_heads, sr) in enumerate(
                zip(dims, depths, heads, sr_ratios)):
            stride = 2**(i + 2)
            grid = (self.img_size[0] // stride, self.img_size[1] // stride)
            layers = [
                CMTPatchEmbed(in_dims, dim, num_heads, grid, sr,
                              interpolate_mode)
            ]
            layers += [
                CMTBlock(
                    dim,
                    num_heads,
                    settings['mlp_ratio'],
                    qkv_bias,
                    settings.get('qk_ratio', 1),
                    sr,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=next(rates),
                    norm_cfg=norm_cfg,
                    fused_attn=fused_attn) for _ in range(depth)
            ]
            self.stages.append(nn.ModuleList(layers))
            in_dims = dim
        if out_type == 'pre_logits':
            self.pre_logits = CMTPreLogits(dims[-1], head_dims,
                                           head_drop_rate, norm_cfg)
        else:
            self.pre_logits = None

    def _check_size(self, size: Size, what: str):
        d = self.size_divisor
        if size[0] % d or size[1] % d or min(size) < d:
            raise ValueError(
                f'CMT {what} {size[0]}x{size[1]} is not divisible by {d}: '
                f'height and width must be multiples of {d} (stride '
                f'{2**(len(self.depths) + 1)} of the last stage, with exact '
                'key / value reduction grids in every stage); pad or resize '
                'the images (e.g. size_divisor=32 in the data preprocessor)')

    # -------------------------------------------------------------- weights
    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02) linear
        layers, Kaiming normal (fan out) convolutions, zero biases, unit
        norms and standard normal position biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, nn.modules.batchnorm._NormBase,
                                nn.GroupNorm)):
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            elif isinstance(m, CMTPatchEmbed):
                nn.init.normal_(m.relative_pos)

    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize the position biases of a checkpoint made for another
        (square) training resolution to this model's grids; called by
        :func:`mmvitplug.models.utils.load_pretrained`."""
        state_dict = dict(state_dict)
        pattern = re.compile(r'stages\.(\d+)\.0\.relative_pos')
        for key in list(state_dict):
            match = pattern.fullmatch(key)
            if not match or int(match.group(1)) >= len(self.stages):
                continue
            embed = self.stages[int(match.group(1))][0]
            value = state_dict[key]
            if value.shape == embed.relative_pos.shape or value.ndim != 3:
                continue
            side, kv_side = math.isqrt(value.shape[1]), math.isqrt(
                value.shape[2])
            if side * side != value.shape[1] or \
                    kv_side * kv_side != value.shape[2]:
                continue  # left to the shape-mismatch report
            state_dict[key] = resize_attention_bias(
                value, (side, side), (kv_side, kv_side), embed.grid,
                embed.kv_grid, self.interpolate_mode)
            print_log(
                f'Resized {key} from {tuple(value.shape)} (grids '
                f'{side}x{side} / {kv_side}x{kv_side}) to '
                f'{tuple(state_dict[key].shape)} (grids '
                f'{embed.grid[0]}x{embed.grid[1]} / '
                f'{embed.kv_grid[0]}x{embed.kv_grid[1]})',
                logger='current')
        return state_dict

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """The convolutional stem: (B, stem_channels, H/2, W/2) maps."""
        self._check_size(tuple(x.shape[-2:]), 'input')
        return self.stem(x), None

    def forward_stage(self, index: int, x: torch.Tensor, grid):
        """The patch embedding (tokens and the stage's position bias for
        their grid), then the blocks."""
        if x.ndim == 3:  # tokens of the previous stage
            x = x.transpose(1, 2).reshape(x.shape[0], -1, *grid)
        layers = self._stage_layers[index]
        grid = (x.shape[2] // 2, x.shape[3] // 2)
        x, bias = self.run_layer(layers[0], x)
        for block in layers[1:]:
            x = self.run_layer(block, x, grid, bias)
        return x, grid

    def format_output(self, x: torch.Tensor, index: int, grid: Size):
        """Stage tokens as ``out_type`` says, or the classification
        features after the last stage."""
        if self.out_type == 'raw':
            return x
        if self.out_type == 'avg_featmap':
            return x.mean(dim=1)
        x = tokens_to_featmap(x, grid)
        if self.out_type == 'pre_logits':
            return self.pre_logits(x)
        return x
