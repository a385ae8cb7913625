# Copyright (c) mmvitplug contributors.
"""PatchConvNet backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2112.13692>`_.
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.converters import convert_patchconvnet
from mmvitplug.layers import (AttentionPool, ConvStem, DropPath, Mlp,
                              SqueezeExcite)
from mmvitplug.registry import MODELS
from ..utils import (BackboneContractMixin, block_layer_depth,
                     check_frozen_stages, check_out_type, parse_arch,
                     parse_out_indices)


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


class AggregationBlock(nn.Module):
    """Class-token block: attention pooling and MLP update only the tokens.

    ``cls = cls + gamma_1 * attn(norm1([cls, x]))`` then
    ``cls = cls + gamma_2 * mlp(norm2(cls))``; the patch tokens ``x`` are
    read, not changed.

    Args:
        dim (int): Token dimension.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``.
        num_cls_tokens (int): Number of class tokens (queries).
        qkv_bias (bool): Bias in the q, k, v projections.
        drop (float): Dropout after the attention projection and in the MLP.
        attn_drop (float): Dropout on the attention weights.
        init_values (float): Initial LayerScale ``gamma_1`` / ``gamma_2``.
        norm_cfg (dict): Config of the token norms.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 num_cls_tokens: int, qkv_bias: bool, drop: float,
                 attn_drop: float, init_values: float, norm_cfg: dict,
                 fused_attn: bool):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = AttentionPool(
            dim,
            num_heads=num_heads,
            num_queries=num_cls_tokens,
            keys_include_queries=num_cls_tokens == 1,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.gamma_2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self, x: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        """Update ``cls`` (B, Q, C) from patch tokens ``x`` (B, N, C)."""
        u = torch.cat((cls, x), dim=1)
        cls = cls + self.gamma_1 * self.attn(self.norm1(u))
        return cls + self.gamma_2 * self.mlp(self.norm2(cls))


@MODELS.register_module()
class PatchConvNet(BackboneContractMixin, BaseBackbone):
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
    converter = staticmethod(convert_patchconvnet)
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
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')

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
        super().__init__(init_cfg)
        self.arch_settings = parse_arch(arch, self.arch_zoo, self.arch_keys,
                                        ('init_values', ), 'PatchConvNet')
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        init_values = self.arch_settings.get('init_values', 1e-6)
        self.patch_size = patch_size
        check_out_type(out_type, self.out_types)
        self.out_type = out_type
        self.out_indices = parse_out_indices(out_indices, self.num_layers)
        if out_type == 'cls_token' and \
                self.out_indices != (self.num_layers - 1, ):
            raise ValueError(
                "out_type 'cls_token' is the aggregated class token after "
                'the last block: out_indices must be -1 (or '
                f'{self.num_layers - 1}), got {out_indices!r}; use '
                "'featmap', 'avg_featmap' or 'raw' for other blocks")
        if num_cls_tokens < 1:
            raise ValueError(
                f'num_cls_tokens must be >= 1, got {num_cls_tokens}')
        if depth_token_only < 1:
            raise ValueError(
                f'depth_token_only must be >= 1, got {depth_token_only}')
        check_frozen_stages(frozen_stages, self.num_layers)
        self.frozen_stages = frozen_stages
        self.num_cls_tokens = num_cls_tokens
        self.with_cp = with_cp

        dim = self.embed_dims
        self.patch_embed = ConvStem(patch_size, in_channels, dim)
        self.blocks = nn.ModuleList([
            PatchConvBlock(dim, norm_cfg, init_values, drop_path_rate)
            for _ in range(self.num_layers)
        ])
        if out_type == 'cls_token':
            self.cls_token = nn.Parameter(torch.zeros(1, num_cls_tokens, dim))
            self.blocks_token_only = nn.ModuleList([
                AggregationBlock(dim, num_heads, mlp_ratio, num_cls_tokens,
                                 qkv_bias, drop_rate, attn_drop_rate,
                                 init_values, head_norm_cfg, fused_attn)
                for _ in range(depth_token_only)
            ])
            self.norm = build_norm_layer(head_norm_cfg, dim)[1]
        else:
            self.cls_token = None
            self.blocks_token_only = nn.ModuleList()
            self.norm = nn.Identity()
        self._freeze_stages()

    # -------------------------------------------------------------- weights
    def _init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02) for the
        class token(s) and linear layers, LayerNorm ones and zeros;
        convolutions and BatchNorm keep PyTorch's defaults, LayerScale
        vectors their init value."""
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=.02)
        super()._init_default_weights()

    # ------------------------------------------------------------- freezing
    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        mods = [self.patch_embed]
        mods += list(self.blocks[:self.frozen_stages])
        if self.frozen_stages == self.num_layers:
            mods += [self.blocks_token_only, self.norm]
        return mods

    def _frozen_params(self):
        if self.frozen_stages == self.num_layers:
            return [self.cls_token]
        return []

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay.

        The stem is depth 0, ``blocks.i`` is ``i + 1`` and everything else
        (class token, aggregation blocks, final norm, parameters outside the
        backbone such as the head) is ``num_layers + 1``.

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of the backbone parameters in
                ``param_name``. Defaults to ''.

        Returns:
            tuple[int, int]: The layer depth and the number of depths
            (``num_layers + 2``).
        """
        return block_layer_depth(
            param_name, prefix, self.num_layers,
            stem_prefix='patch_embed.')

    # -------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> tuple:
        """Extract features.

        Args:
            x (torch.Tensor): Images (B, C, H, W); H and W must be multiples
                of ``patch_size``.

        Returns:
            tuple: One output per ``out_indices`` entry, formatted as
            ``out_type`` says.
        """
        x = self.patch_embed(x)
        outs = []
        for i, block in enumerate(self.blocks):
            x = self._run_block(block, x)
            if i in self.out_indices:
                outs.append(self._format_output(x))
        return tuple(outs)

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

    def _format_output(self, x: torch.Tensor):
        if self.out_type == 'cls_token':
            return self.aggregate(x)
        if self.out_type == 'featmap':
            return x.contiguous()  # see mmvitplug.layers.tokens_to_featmap
        if self.out_type == 'avg_featmap':
            return x.mean((2, 3))
        return x.flatten(2).transpose(1, 2)
