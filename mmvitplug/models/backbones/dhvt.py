# Copyright (c) mmvitplug contributors.
"""DHVT: a ViT for small datasets with a convolutional patch embedding
(SOPE), head tokens in the attention (HI-MHSA) and a convolutional
feed-forward network (DAFF).

`Lu et al. 2022, "Bridging the Gap Between Vision Transformers and
Convolutional Neural Networks on Small Datasets"
<https://arxiv.org/abs/2210.05958>`_; official code: ArieSeirack/DHVT.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import Attention, DropPath, attend
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_tokens

Size = Tuple[int, int]


class ChannelAffine(nn.Module):
    """``alpha * x + beta`` per channel of (B, C, H, W) maps (the official
    ``Affine``; parameters of shape (1, C, 1, 1))."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.alpha + self.beta


class SOPE(nn.Module):
    """Sequential overlapping patch embedding: an affine on the image, 3x3
    stride-2 convolutions with BN (GELU between them; 4 for patch 16, 2
    for patch 4, 1 for patch 2, widths doubling up to ``dims``), an affine
    on the result. Official names: ``proj.{2k}.{0: conv, 1: BN}``,
    ``pre_affine``, ``post_affine``."""

    widths = {16: (8, 4, 2, 1), 4: (2, 1), 2: (1, )}

    def __init__(self, in_channels: int, dims: int, patch_size: int):
        super().__init__()
        if patch_size not in self.widths:
            raise ValueError(f'DHVT patch_size must be one of '
                             f'{sorted(self.widths)}, got {patch_size}')
        layers, channels = [], in_channels
        for i, div in enumerate(self.widths[patch_size]):
            if i:
                layers.append(nn.GELU())
            out = dims // div
            layers.append(
                nn.Sequential(
                    nn.Conv2d(channels, out, 3, 2, 1, bias=False),
                    nn.BatchNorm2d(out)))
            channels = out
        if patch_size == 2:  # the official stem ends with its GELU here
            layers.append(nn.GELU())
        self.proj = nn.Sequential(*layers)
        self.pre_affine = ChannelAffine(in_channels)
        self.post_affine = ChannelAffine(dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Size]:
        x = self.post_affine(self.proj(self.pre_affine(x)))
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid


class HIAttention(Attention):
    """Head-interacted multi-head self-attention (HI-MHSA).

    Each head's channel slice is averaged over all tokens (class token
    included), projected to ``dim`` channels (``ht_proj``), split into one
    token per head, normalised per head (``ht_norm``), passed through GELU
    and given a learned position embedding: these ``num_heads`` head
    tokens join the attention, and after the projection their mean is
    added to the class token and they are dropped.

    Args:
        dim (int): Token channels.
        num_heads (int): Heads (and head tokens).
        qkv_bias (bool): Biases of the q, k, v projection.
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool,
                 attn_drop: float, proj_drop: float, fused_attn: bool):
        super().__init__(dim, num_heads, qkv_bias, attn_drop, proj_drop,
                         fused_attn)
        self.act = nn.GELU()
        self.ht_proj = nn.Linear(self.head_dim, dim)
        self.ht_norm = nn.LayerNorm(self.head_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_heads, dim))

    def head_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) tokens -> (B, heads, C) head tokens."""
        B, N, C = x.shape
        h, d = self.num_heads, self.head_dim
        means = x.reshape(B, N, h, d).mean(dim=1)  # B h d
        tokens = self.ht_proj(means).reshape(B, h, h, d)
        tokens = self.act(self.ht_norm(tokens)).flatten(2)
        return tokens + self.pos_embed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        x = torch.cat((x, self.head_tokens(x)), dim=1)
        qkv = self.qkv(x).reshape(B, N + h, 3, h, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = attend(
            q, k, v,
            scale=self.scale,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        x = self.proj(x.transpose(1, 2).reshape(B, N + h, C))
        cls_token = x[:, :1] + x[:, N:].mean(dim=1, keepdim=True)
        return self.proj_drop(torch.cat((cls_token, x[:, 1:N]), dim=1))


class DAFF(nn.Module):
    """Dynamic aggregation feed-forward: on the patch-token map a 1x1
    convolution + BN + GELU, a residual 3x3 depth-wise convolution + BN +
    GELU, a 1x1 convolution + BN; the class token is multiplied by a
    squeeze-excitation of the result (reduction 4, no sigmoid, as
    officially).

    Args:
        dims (int): Token channels.
        hidden_dims (int): Hidden channels.
        excite_cls (bool): Build the excitation and rescale the class token
            with it; without, the class token passes through unchanged (a
            last block whose class token is not output).
    """

    def __init__(self, dims: int, hidden_dims: int, excite_cls: bool = True):
        super().__init__()
        self.excite_cls = excite_cls
        self.conv1 = nn.Conv2d(dims, hidden_dims, 1)
        self.conv2 = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.conv3 = nn.Conv2d(hidden_dims, dims, 1)
        self.act = nn.GELU()
        self.bn1 = nn.BatchNorm2d(hidden_dims)
        self.bn2 = nn.BatchNorm2d(hidden_dims)
        self.bn3 = nn.BatchNorm2d(dims)
        if excite_cls:
            self.compress = nn.Linear(dims, dims // 4)
            self.excitation = nn.Linear(dims // 4, dims)

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        B, N, C = x.shape
        cls_token, tokens = x[:, :1], x[:, 1:]
        x = tokens.transpose(1, 2).reshape(B, C, *grid)
        x = self.act(self.bn1(self.conv1(x)))
        x = x + self.act(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        if self.excite_cls:
            weight = self.excitation(self.act(self.compress(x.mean((2, 3)))))
            cls_token = cls_token * weight[:, None]
        return torch.cat((cls_token, x.flatten(2).transpose(1, 2)), dim=1)


class DHVTBlock(nn.Module):
    """Pre-norm residual HI-MHSA and DAFF, with stochastic depth."""

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float,
                 drop_path: float, fused_attn: bool,
                 excite_cls: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=1e-6)
        self.attn = HIAttention(dims, num_heads, qkv_bias, attn_drop, drop,
                                fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        self.norm2 = nn.LayerNorm(dims, eps=1e-6)
        self.mlp = DAFF(dims, int(dims * mlp_ratio), excite_cls)

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x), grid))


@MODELS.register_module()
class DHVT(VisionBackbone):
    """DHVT: a plain ViT trunk with the SOPE patch embedding, HI-MHSA and
    DAFF, no position embedding, a class token.

    The arch zoo has the official models (``dhvt_{tiny,small}_{imagenet,
    cifar,domain}_patch*``): 'dhvt-t' / 'dhvt-s' (patch 16) for ImageNet
    ('dhvt-s' is also the DomainNet small model), 'dhvt-{t,s}-cifar-p{4,2}'
    (4 / 8 heads) for CIFAR-100, 'dhvt-t-domain' (4 heads, patch 16). Any
    (H, W) token grid works (the official code assumes a square one): the
    model has no position embedding, the SOPE convolutions round odd
    sides up.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads`` and optionally
            ``patch_size`` (16, 4 or 2: 4, 2 or 1 stride-2 convolutions;
            default 16) and ``mlp_ratio`` (default 4). Defaults to
            'dhvt-t'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Blocks whose output is
            returned. Defaults to -1.
        out_type (str): 'cls_token', 'featmap', 'avg_featmap' or 'raw'.
            With 'featmap' / 'avg_featmap' the last output block builds no
            class-token excitation (its result would be unused, which DDP
            rejects; a checkpoint's weights for it are reported unused).
            Defaults to 'cls_token'.
        final_norm (bool): The LayerNorm ``norm`` on the last block's
            output. Defaults to True.
        qkv_bias (bool): Biases of the q, k, v projections.
            Defaults to True.
        drop_rate (float): Dropout after the attention projection.
            Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth, linear over the blocks.
            Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 the stem; k the first k
            blocks too. Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing. Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """
    arch_zoo: Dict[str, dict] = {
        # ImageNet (and DomainNet: dhvt-s)
        'dhvt-t': dict(embed_dims=192, num_layers=12, num_heads=3),
        'dhvt-s': dict(embed_dims=384, num_layers=12, num_heads=6),
        # CIFAR-100
        'dhvt-t-cifar-p4': dict(embed_dims=192, num_layers=12, num_heads=4,
                                patch_size=4),
        'dhvt-s-cifar-p4': dict(embed_dims=384, num_layers=12, num_heads=8,
                                patch_size=4),
        'dhvt-t-cifar-p2': dict(embed_dims=192, num_layers=12, num_heads=4,
                                patch_size=2),
        'dhvt-s-cifar-p2': dict(embed_dims=384, num_layers=12, num_heads=8,
                                patch_size=2),
        # DomainNet
        'dhvt-t-domain': dict(embed_dims=192, num_layers=12, num_heads=4),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads')
    optional_arch_keys = ('patch_size', 'mlp_ratio')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    token_pruning_note = (
        'its DAFF feed-forward is a depth-wise convolution over the full '
        'patch grid (and its head tokens are pooled from every patch): a '
        'dropped token cannot be left out')
    parts = Parts(
        stem=('patch_embed', 'cls_token'), stages='blocks', top=('norm', ))
    trunc_normal_params = ('cls_token', )

    def __init__(self,
                 arch: Union[str, dict] = 'dhvt-t',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 final_norm: bool = True,
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
        dims = settings['embed_dims']
        self.embed_dims = dims
        self.num_layers = settings['num_layers']
        self.patch_size = settings.get('patch_size', 16)
        self.patch_embed = SOPE(in_channels, dims, self.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        rates = drop_path_rates(drop_path_rate, settings['num_layers'],
                                'linear')
        # the class token of the last output block is read only by these
        self._out_type_built = out_type
        self._unexcited = self.out_indices[-1] if out_type in (
            'featmap', 'avg_featmap') else None
        self.blocks = nn.ModuleList([
            DHVTBlock(dims, settings['num_heads'],
                      settings.get('mlp_ratio', 4.), qkv_bias, drop_rate,
                      attn_drop_rate, rate, fused_attn,
                      i != self._unexcited) for i, rate in enumerate(rates)
        ])
        self.final_norm = final_norm
        self.norm = nn.LayerNorm(dims, eps=1e-6) if final_norm else \
            nn.Identity()

    def embed(self, x: torch.Tensor):
        p = self.patch_size
        if min(x.shape[-2:]) < p:
            raise ValueError(
                f'DHVT needs images of at least {p}x{p} (the patch size), '
                f'got {x.shape[-2]}x{x.shape[-1]}')
        x, grid = self.patch_embed(x)
        cls_token = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat((cls_token, x), dim=1), grid

    def forward_stage(self, index: int, x: torch.Tensor, grid: Size):
        return self.run_layer(self._stage_layers[index][0], x, grid), grid

    def format_output(self, x: torch.Tensor, index: int, grid: Size):
        if index == self._unexcited and self.out_type in ('cls_token',
                                                          'raw'):
            raise ValueError(
                f"out_type '{self.out_type}' of block {index}: this DHVT "
                f"was built for out_type='{self._out_type_built}', without "
                'the excitation of that class token')
        if index == self.num_stages - 1:
            x = self.norm(x)
        if self.out_type == 'cls_token':
            return x[:, 0]
        return format_tokens(x, self.out_type, grid, 1)
