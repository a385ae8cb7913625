# Copyright (c) mmvitplug contributors.
"""PatchConvNet backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2112.13692>`_.
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import (ClassAttentionBlock, ConvStem, DropPath,
                              SqueezeExcite)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, norm_factory


class ConvMixer(nn.Module):
    """PatchConvNet's convolutional residual branch.

    1x1 conv, GELU, depthwise 3x3 conv, GELU, squeeze-excitation, 1x1 conv
    on NCHW maps. ``qkv_pos`` keeps the official name and layer indices
    (0, 2, 4, 5) so checkpoints map one to one.

    Args:
        dim (int): Channels.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.qkv_pos = nn.Sequential(
            nn.Conv2d(dim, dim, 1),
            nn.GELU(),
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
            nn.GELU(),
            SqueezeExcite(dim, rd_ratio=0.25),
            nn.Conv2d(dim, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the branch to (B, C, H, W) maps."""
        return self.qkv_pos(x)


class PatchConvBlock(nn.Module):
    """Residual trunk block: ``x + drop_path(gamma_1 * attn(norm1(x)))``.

    Args:
        dim (int): Channels.
        norm_cfg (dict): Config of the NCHW norm ``norm1``.
        init_values (float): Initial LayerScale ``gamma_1``.
        drop_path (float): Stochastic-depth rate. Defaults to 0.
    """

    def __init__(self,
                 dim: int,
                 norm_cfg: dict,
                 init_values: float,
                 drop_path: float = 0.):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = ConvMixer(dim)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to (B, C, H, W) maps."""
        gamma = self.gamma_1.view(-1, 1, 1)
        return x + self.drop_path(gamma * self.attn(self.norm1(x)))


@MODELS.register_module()
class PatchConvNet(VisionBackbone):
    """PatchConvNet: a columnar convnet with attention-based aggregation.

    A convolutional stem (stride ``patch_size``) feeds a trunk of residual
    convolutional blocks at constant resolution; a learned attention-based
    aggregation (class token(s) attending over the patches, one
    transformer-like block, then a norm) replaces average pooling
    (`PatchConvNet <https://arxiv.org/abs/2112.13692>`_). Parameter names
    follow the official code (``patch_embed.proj``, ``blocks.{i}.norm1``,
    ``blocks.{i}.attn.qkv_pos.{0,2,4,5}``, ``blocks.{i}.gamma_1``,
    ``cls_token``, ``blocks_token_only.{i}.*``, ``norm``), so official
    checkpoints load after :func:`mmvitplug.converters.convert_patchconvnet`.

    The trunk runs on NCHW maps (any H, W divisible by ``patch_size``, not
    only squares as in the official code). The official code and released
    checkpoints normalise the trunk with LayerNorm (eps 1e-6) over channels;
    ``norm_cfg=dict(type='BN')`` (or 'SyncBN') gives a BatchNorm trunk,
    which then depends on the batch statistics (small detection batches;
    use SyncBN or freeze it in dense tasks) and cannot load the official
    LayerNorm weights.

    The aggregation (``cls_token``, ``blocks_token_only``, ``norm``) is built
    only for ``out_type='cls_token'``; dense outputs come from the trunk.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers`` (and optionally ``init_values``,
            default 1e-6). Defaults to 'patchconvnet-s60'.
        patch_size (int): Stride of the stem, a power of two >= 2.
            Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        num_cls_tokens (int): Class tokens of the aggregation. 1 is the
            standard model; more is the paper's multi-class-token variant
            (one token per class, ``S60_multi``: the tokens only attend to
            the patches), whose output is (B, num_cls_tokens, C) and needs a
            per-token head. Defaults to 1.
        num_heads (int): Heads of the attention pooling. Defaults to 1.
        mlp_ratio (float): MLP ratio of the aggregation block.
            Defaults to 3.
        depth_token_only (int): Number of aggregation blocks. Defaults to 1.
        out_indices (int | Sequence[int]): Trunk blocks whose output is
            returned; negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' — the aggregated class token after the
            final norm, (B, C) (only with ``out_indices`` the last block) —,
            'featmap' (B, C, H/p, W/p), 'avg_featmap' (B, C) spatial mean,
            or 'raw' (B, H/p * W/p, C) trunk tokens. Defaults to 'cls_token'.
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        drop_rate (float): Dropout in the aggregation block. Defaults to 0.
        attn_drop_rate (float): Dropout on the pooling attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth of every trunk block (the
            official schedule is constant over depth). Defaults to 0.
        norm_cfg (dict): NCHW norm of the trunk blocks. Defaults to
            ``dict(type='mmvitplug.LN2d', eps=1e-6)``.
        head_norm_cfg (dict): Token norm of the aggregation blocks and of
            the final norm. Defaults to ``dict(type='LN', eps=1e-6)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k blocks (and the aggregation when k ==
            num_layers). Frozen parts stay in eval mode. Defaults to -1.
        fused_attn (bool): Fused attention kernel in the pooling.
            Defaults to True.
        with_cp (bool): Gradient checkpointing of the trunk blocks in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'patchconvnet-s60':
        dict(embed_dims=384, num_layers=60, init_values=1e-4),
        'patchconvnet-s120':
        dict(embed_dims=384, num_layers=120, init_values=1e-6),
        'patchconvnet-b60':
        dict(embed_dims=768, num_layers=60, init_values=1e-6),
        'patchconvnet-b120':
        dict(embed_dims=768, num_layers=120, init_values=1e-6),
        'patchconvnet-l60':
        dict(embed_dims=1024, num_layers=60, init_values=1e-6),
        'patchconvnet-l120':
        dict(embed_dims=1024, num_layers=120, init_values=1e-6),
    }
    arch_keys = ('embed_dims', 'num_layers')
    optional_arch_keys = ('init_values', )
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    token_pruning_note = (
        'its trunk is convolutional over the full patch grid')
    final_only_out_types = {
        'cls_token': 'it is the aggregated class token after the last block'
    }
    stage_unit = 'blocks'
    # the aggregation (class token, its blocks, norm) follows the trunk
    parts = Parts(
        stem=('patch_embed', ),
        stages='blocks',
        top=('cls_token', 'blocks_token_only', 'norm'))
    trunc_normal_params = ('cls_token', )

    def __init__(self,
                 arch: Union[str, dict] = 'patchconvnet-s60',
                 patch_size: int = 16,
                 in_channels: int = 3,
                 num_cls_tokens: int = 1,
                 num_heads: int = 1,
                 mlp_ratio: float = 3.,
                 depth_token_only: int = 1,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='mmvitplug.LN2d', eps=1e-6),
                 head_norm_cfg: dict = dict(type='LN', eps=1e-6),
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        self.embed_dims = dim = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        init_values = self.arch_settings.get('init_values', 1e-6)
        if num_cls_tokens < 1:
            raise ValueError(
                f'num_cls_tokens must be >= 1, got {num_cls_tokens}')
        if depth_token_only < 1:
            raise ValueError(
                f'depth_token_only must be >= 1, got {depth_token_only}')
        self.patch_size = patch_size
        self.num_cls_tokens = num_cls_tokens

        self.patch_embed = ConvStem(patch_size, in_channels, dim)
        self.blocks = nn.ModuleList([
            PatchConvBlock(dim, norm_cfg, init_values, drop_path_rate)
            for _ in range(self.num_layers)
        ])
        if out_type == 'cls_token':
            self.cls_token = nn.Parameter(torch.zeros(1, num_cls_tokens, dim))
            head_norm = norm_factory(head_norm_cfg)
            # the official aggregation: several class tokens attend to the
            # patches only; the MLP width is int(dim * mlp_ratio)
            self.blocks_token_only = nn.ModuleList([
                ClassAttentionBlock(
                    dim,
                    num_heads,
                    mlp_hidden_features=int(dim * mlp_ratio),
                    num_queries=num_cls_tokens,
                    keys_include_queries=num_cls_tokens == 1,
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    init_values=init_values,
                    norm_layer=head_norm,
                    fused_attn=fused_attn)
                for _ in range(depth_token_only)
            ])
            self.norm = head_norm(dim)
        else:
            self.cls_token = None
            self.blocks_token_only = nn.ModuleList()
            self.norm = nn.Identity()

    def embed(self, x: torch.Tensor):
        """The convolutional stem: (B, C, H/p, W/p) maps."""
        return self.patch_embed(x), None

    def format_output(self, x: torch.Tensor, index: int, context=None):
        """Trunk maps as ``out_type`` says, or the aggregated class token."""
        if self.out_type == 'cls_token':
            return self.aggregate(x)
        if self.out_type == 'featmap':
            return x.contiguous()  # see mmvitplug.layers.tokens_to_featmap
        if self.out_type == 'avg_featmap':
            return x.mean((2, 3))
        return x.flatten(2).transpose(1, 2)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """Attention-pool trunk features into the normalised class token(s).

        Args:
            x (torch.Tensor): Last trunk features (B, C, H, W).

        Returns:
            torch.Tensor: (B, C), or (B, num_cls_tokens, C) when there are
            several class tokens.
        """
        x = x.flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        for block in self.blocks_token_only:
            cls = block(x, cls)
        cls = self.norm(cls)
        return cls[:, 0] if self.num_cls_tokens == 1 else cls
