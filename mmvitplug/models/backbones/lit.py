# Copyright (c) mmvitplug contributors.
"""LIT: MLP blocks in the early stages, attention in the late ones, and
deformable token merging between stages.

`Pan et al. 2022, "Less is More: Pay Less Attention in Vision
Transformers" <https://arxiv.org/abs/2105.14217>`_; official code:
ziplab/LIT.
"""
import functools
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import (Attention, DeformableTokenMerging, DropPath, Mlp,
                              resize_pos_embed)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_tokens

Size = Tuple[int, int]
POSITIONS = ('absolute', 'relative')


@functools.lru_cache(maxsize=32)
def relative_position_index(height: int,
                            width: int,
                            device: torch.device = torch.device('cpu')
                            ) -> torch.Tensor:
    """Index (N, N), N = height * width, of every token pair's offset
    (dy, dx) in a ((2 height - 1) x (2 width - 1)) table, row-major; cached
    per grid and device (every block of a stage, every forward)."""
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(height, device=device),
            torch.arange(width, device=device),
            indexing='ij'))
    coords = coords.flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    return (rel[0] + height - 1) * (2 * width - 1) + rel[1] + width - 1


def resize_table(table: torch.Tensor, src: Size, dst: Size) -> torch.Tensor:
    """Bicubic (align_corners=False) resize of a relative-position table
    (src_h * src_w, heads) laid out row-major over (src_h, src_w) offsets
    to (dst_h * dst_w, heads), as the official LIT detection code does."""
    if tuple(src) == tuple(dst):
        return table
    heads = table.shape[1]
    grid = table.float().transpose(0, 1).reshape(1, heads, *src)
    grid = F.interpolate(grid, size=dst, mode='bicubic', align_corners=False)
    return grid.reshape(heads, -1).transpose(0, 1).to(table.dtype)


class LITPatchEmbed(nn.Module):
    """A ``patch_size`` x ``patch_size`` stride-``patch_size`` convolution,
    then a LayerNorm: images (B, C, H, W) -> tokens (B, H' * W', D) and
    their grid; sides not divisible by the patch size are zero-padded at
    the right / bottom first (as the official LIT-S detection backbone
    does)."""

    def __init__(self, in_channels: int, dims: int, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, dims, patch_size, patch_size)
        self.norm = nn.LayerNorm(dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Size]:
        p = self.patch_size
        pad_h, pad_w = -x.shape[2] % p, -x.shape[3] % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), grid


class RelPosAttention(Attention):
    """Global multi-head self-attention over a stage's whole token grid
    with a learned relative-position bias (LIT-S/M/B).

    The bias table has one entry per offset (dy, dx) of the grid ``grid``
    it is made for, ``(2 h - 1) * (2 w - 1)`` rows, one column per head;
    another token grid gets the table bicubically resized to
    ``(2 H - 1, 2 W - 1)`` on the fly, as the official detection backbone
    does. Computed through :func:`mmvitplug.layers.attend` with the bias as
    an additive mask (fused or explicit path).

    Args:
        dim (int): Token channels.
        num_heads (int): Heads.
        grid (tuple[int, int]): Token grid (h, w) the table is made for.
        qkv_bias (bool): Biases of the q, k, v projection.
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim: int, num_heads: int, grid: Size, qkv_bias: bool,
                 attn_drop: float, proj_drop: float, fused_attn: bool):
        super().__init__(dim, num_heads, qkv_bias, attn_drop, proj_drop,
                         fused_attn)
        self.grid = tuple(grid)
        self.table_size = (2 * grid[0] - 1, 2 * grid[1] - 1)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(self.table_size[0] * self.table_size[1], num_heads))
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def bias(self, grid: Size) -> torch.Tensor:
        """The additive bias (1, heads, N, N) of a (H, W) token grid."""
        H, W = grid
        table = resize_table(self.relative_position_bias_table,
                             self.table_size, (2 * H - 1, 2 * W - 1))
        index = relative_position_index(H, W, table.device)
        bias = table[index.view(-1)].view(H * W, H * W, -1)
        return bias.permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        return super().forward(x, mask=self.bias(grid))


class LITBlock(nn.Module):
    """Pre-norm residual block: attention (stages with attention only),
    then the MLP.

    Args:
        dims (int): Token channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden channels per token channel.
        attention (str, optional): None (an MLP block, LIT's early
            stages), 'global' (plain multi-head self-attention, LIT-Ti) or
            'relative' (:class:`RelPosAttention`, LIT-S/M/B).
        grid (tuple[int, int]): Token grid of the relative-position table.
        qkv_bias (bool): Biases of the q, k, v projection.
        drop (float): Dropout after the attention and in the MLP.
        attn_drop (float): Dropout on the attention weights.
        drop_path (float): Stochastic depth of both residual branches.
        norm_eps (float): Epsilon of the LayerNorms.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float,
                 attention: Optional[str], grid: Size, qkv_bias: bool,
                 drop: float, attn_drop: float, drop_path: float,
                 norm_eps: float, fused_attn: bool):
        super().__init__()
        self.relative = attention == 'relative'
        if attention is None:
            self.attn = None
        else:
            self.norm1 = nn.LayerNorm(dims, eps=norm_eps)
            kwargs = dict(
                qkv_bias=qkv_bias,
                attn_drop=attn_drop,
                proj_drop=drop,
                fused_attn=fused_attn)
            self.attn = RelPosAttention(dims, num_heads, grid, **kwargs) \
                if self.relative else Attention(dims, num_heads, **kwargs)
        self.norm2 = nn.LayerNorm(dims, eps=norm_eps)
        self.mlp = Mlp(dims, int(dims * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor, grid: Size) -> torch.Tensor:
        if self.attn is not None:
            y = self.norm1(x)
            y = self.attn(y, grid) if self.relative else self.attn(y)
            x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class LIT(VisionBackbone):
    """LIT: a four-stage pyramid of MLP blocks (early stages) and attention
    blocks (late stages) joined by deformable token merging.

    A 4x4 patch embedding feeds stages at strides 4, 8, 16 and 32; every
    stage after the first opens with a deformable token merging (DTM: a
    2x2 stride-2 deformable convolution, BN, GELU) to its channels. Blocks
    are pre-norm residual MLPs, preceded in the stages whose ``has_msa``
    entry is 1 by pre-norm residual multi-head self-attention over the
    whole stage. The arch's ``position`` picks one of the two models of
    the paper:

    - 'absolute' (LIT-Ti, PVT-like): a learned position embedding per
      stage, added after the patch embedding / DTM (resized bilinearly to
      other grids, as the official detection backbone does), plain
      attention, a class token joining the last stage (``with_cls_token``)
      and LayerNorms with eps 1e-6 (the patch embedding's: 1e-5). The
      final norm ``norm3`` normalises the last stage's output.
    - 'relative' (LIT-S/M/B, Swin-like): no position embedding; attention
      with a relative-position bias over the whole grid, its table made
      for the grid of ``img_size`` and resized bicubically to other grids
      (on the fly, and on load from checkpoints trained at other sizes).
      Stages 1-3 have output norms ``norm1``-``norm3`` (the official
      detection backbone's; ``norm3`` is the classification model's
      final norm), stage 0's output is not normalised (as officially).

    ``norm{i}`` of a stage i < 3 enters between stages i and i + 1 (its
    layer depth). Any input of at least 32x32 works: the patch embedding
    zero-pads sides to multiples of 4 (as the official LIT-S detection
    backbone does) and the DTMs round odd sides down (as the official
    convolutions do), so dense prediction feeds the four stage maps to an
    FPN / UPerHead at any size.

    Parameter names follow the official code inside the blocks; official
    checkpoints (both layouts) load after
    :func:`mmvitplug.converters.convert_lit`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``,
            ``has_msa`` (per stage; 1: attention blocks, 0: MLP blocks) and
            ``position`` ('absolute' or 'relative'), optionally
            ``norm_eps`` (default 1e-5). Defaults to 'lit-s'.
        img_size (int | Sequence[int]): Input size the position
            embeddings / relative-position tables are made for (the
            pretraining size). Defaults to 224.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str, optional): 'cls_token' (B, C) the normalised class
            token (last stage only), 'avg_featmap' (B, C_i) means of the
            (normalised) patch tokens, 'featmap' (B, C_i, H_i, W_i)
            contiguous maps, or 'raw' (B, H_i * W_i, C_i) patch tokens.
            Defaults to None: 'cls_token' with a class token, else
            'avg_featmap' (the official classifiers' heads).
        with_cls_token (bool, optional): Whether the last stage has a class
            token; only 'absolute' archs can. The official LIT-Ti
            detection backbone has none. Defaults to None: the arch's
            (True for 'absolute', False for 'relative').
        qkv_bias (bool): Bias in the q, k, v projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding / patch
            embedding, after the attention and in the MLP. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            embedding (and the first position embedding); k > 0 also the
            first k stages (with what joins inside them; ``norm3`` when
            k == 4). Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'lit-ti':
        dict(
            embed_dims=[64, 128, 320, 512],
            depths=[3, 4, 6, 3],
            num_heads=[1, 2, 5, 8],
            mlp_ratios=[8, 8, 4, 4],
            has_msa=[0, 0, 1, 1],
            position='absolute',
            norm_eps=1e-6),
        'lit-s':
        dict(
            embed_dims=[96, 192, 384, 768],
            depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24],
            mlp_ratios=[4, 4, 4, 4],
            has_msa=[0, 0, 1, 1],
            position='relative'),
        'lit-m':
        dict(
            embed_dims=[96, 192, 384, 768],
            depths=[2, 2, 18, 2],
            num_heads=[3, 6, 12, 24],
            mlp_ratios=[4, 4, 4, 4],
            has_msa=[0, 0, 1, 1],
            position='relative'),
        'lit-b':
        dict(
            embed_dims=[128, 256, 512, 1024],
            depths=[2, 2, 18, 2],
            num_heads=[4, 8, 16, 32],
            mlp_ratios=[4, 4, 4, 4],
            has_msa=[0, 0, 1, 1],
            position='relative'),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios',
                 'has_msa', 'position')
    optional_arch_keys = ('norm_eps', )
    out_types = ('avg_featmap', 'cls_token', 'featmap', 'raw')
    final_only_out_types = {
        'cls_token': 'the class token joins at the last stage'
    }
    num_stages_key = 'depths'
    stage_unit = 'stages'
    # stage i > 0: its token merging (then, 'absolute', its position
    # embedding and, last stage, the class token), then its blocks
    parts = Parts(
        stem=('patch_embed', 'pos_embed1', 'pos_drop'),
        stages='stages',
        top=('norm3', ),
        joins=(('pos_embed2', 'stage1_second_layer'),
               ('pos_embed3', 'stage2_second_layer'),
               ('pos_embed4', 'stage3_second_layer'),
               ('cls_token', 'stage3_second_layer'),
               ('norm1', 'stage2_first_layer'),
               ('norm2', 'stage3_first_layer')))
    trunc_normal_params = ('pos_embed1', 'pos_embed2', 'pos_embed3',
                           'pos_embed4', 'cls_token')
    patch_size = 4

    def __init__(self,
                 arch: Union[str, dict] = 'lit-s',
                 img_size: Union[int, Sequence[int]] = 224,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: Optional[str] = None,
                 with_cls_token: Optional[bool] = None,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        # read by default_out_type() inside the base constructor
        self._with_cls_token_arg = with_cls_token
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        position = settings['position']
        per_stage = self.stage_settings(
            'embed_dims', 'num_heads', 'mlp_ratios', 'has_msa', num_stages=4)
        depths = per_stage['depths']
        self.with_cls_token = self._has_cls_token()
        if self.out_type == 'cls_token' and not self.with_cls_token:
            raise ValueError(
                "out_type='cls_token' needs a class token: use an "
                "'absolute' arch (LIT-Ti) with with_cls_token=True, or "
                "out_type 'avg_featmap'")
        dims = per_stage['embed_dims']
        self.embed_dims = dims
        self.depths = depths
        self.position = position
        img_size = (img_size, img_size) if isinstance(img_size, int) \
            else tuple(img_size)
        # the grid of each stage at img_size
        self.grids = [(img_size[0] // self.patch_size // 2**i,
                       img_size[1] // self.patch_size // 2**i)
                      for i in range(4)]
        if min(self.grids[-1]) < 1:
            raise ValueError(f'img_size must be at least 32 (stride 32 of '
                             f'the last stage), got {img_size}')
        norm_eps = settings.get('norm_eps', 1e-5)

        self.patch_embed = LITPatchEmbed(in_channels, dims[0],
                                         self.patch_size)
        self.pos_drop = nn.Dropout(drop_rate)
        absolute = position == 'absolute'
        for i, grid in enumerate(self.grids):
            extra = int(i == 3 and self.with_cls_token)
            setattr(
                self, f'pos_embed{i + 1}',
                nn.Parameter(torch.zeros(1, extra + grid[0] * grid[1],
                                         dims[i])) if absolute else None)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims[3])) \
            if self.with_cls_token else None
        rates = iter(
            drop_path_rates(drop_path_rate, sum(depths), mode='linear'))
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            attention = None if not per_stage['has_msa'][i] else \
                'relative' if position == 'relative' else 'global'
            layers = [DeformableTokenMerging(dims[i - 1], dim)] if i else []
            layers += [
                LITBlock(
                    dim,
                    per_stage['num_heads'][i],
                    per_stage['mlp_ratios'][i],
                    attention,
                    self.grids[i],
                    qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=next(rates),
                    norm_eps=norm_eps,
                    fused_attn=fused_attn) for _ in range(depth)
            ]
            self.stages.append(nn.ModuleList(layers))
        # output norms: 'relative' (official detection backbone) norm1-3,
        # 'absolute' the final norm only; norm3 is the classifier's norm
        for i, dim in enumerate(dims[1:], start=1):
            norm = nn.LayerNorm(dim, eps=norm_eps) \
                if i == 3 or not absolute else None
            setattr(self, f'norm{i}', norm)
        first = 0
        for i in range(1, len(dims)):
            first += len(self.stages[i - 1])
            setattr(self, f'stage{i}_first_layer', first)
            setattr(self, f'stage{i}_second_layer', first + 1)

    def _has_cls_token(self) -> bool:
        position = self.arch_settings.get('position')
        if position not in POSITIONS:
            raise ValueError(f'arch position must be one of '
                             f'{list(POSITIONS)}, got {position!r}')
        absolute = position == 'absolute'
        wanted = self._with_cls_token_arg
        if wanted and not absolute:
            raise ValueError(
                "with_cls_token=True needs an 'absolute' arch (LIT-Ti); "
                "'relative' archs (LIT-S/M/B) have no class token")
        return absolute if wanted is None else bool(wanted)

    def default_out_type(self) -> str:
        """'cls_token' for a model with a class token (the official LIT-Ti
        head), else 'avg_featmap'."""
        return 'cls_token' if self._has_cls_token() else 'avg_featmap'

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """Patch embedding (and the first position embedding): tokens
        (B, H/4 * W/4, D) and their grid."""
        if min(x.shape[-2:]) < 32:
            raise ValueError(
                f'LIT needs images of at least 32x32 (stride 32 of the '
                f'last stage), got {x.shape[-2]}x{x.shape[-1]}')
        x, grid = self.patch_embed(x)
        return self._add_position(0, x, grid), grid

    def _add_position(self, index: int, x: torch.Tensor, grid: Size):
        """The class token (last stage) and the stage's position
        embedding, resized bilinearly to ``grid``; identity for
        'relative' archs."""
        pos_embed = getattr(self, f'pos_embed{index + 1}')
        if pos_embed is None:
            return self.pos_drop(x) if index == 0 else x
        extra = 0
        if index == 3 and self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1)
            extra = 1
        pos_embed = resize_pos_embed(
            pos_embed,
            self.grids[index],
            grid,
            mode='bilinear',
            num_extra_tokens=extra)
        return self.pos_drop(x + pos_embed)

    def forward_stage(self, index: int, x: torch.Tensor, grid: Size):
        """The token merging, position embedding and class token (stages
        after the first), then the blocks."""
        layers = self._stage_layers[index]
        if index:
            x, grid = self.run_layer(layers[0], x, grid)
            x = self._add_position(index, x, grid)
            layers = layers[1:]
        for block in layers:
            x = self.run_layer(block, x, grid)
        return x, grid

    def format_output(self, x: torch.Tensor, index: int, grid: Size):
        """The stage's tokens, normalised by its output norm (if any), as
        ``out_type`` says."""
        norm = getattr(self, f'norm{index}', None)
        if norm is not None:
            x = norm(x)
        if index == 3 and self.cls_token is not None:
            if self.out_type == 'cls_token':
                return x[:, 0]
            x = x[:, 1:]
        return format_tokens(x, self.out_type, grid)

    # ------------------------------------------------------------- weights
    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Fit checkpoint weights made for other sizes: position embeddings
        of other grids (bilinear; the last one's class-token slot dropped
        when this model has no class token) and relative-position tables
        of other grids (bicubic, as the official detection code loads
        them)."""
        own = self.state_dict()
        for key, value in list(state_dict.items()):
            if key not in own or value.shape == own[key].shape:
                continue
            target = own[key]
            if key.startswith('pos_embed') and value.ndim == 3:
                index = int(key[len('pos_embed'):]) - 1
                extra = value.shape[1] - _square_part(value.shape[1])
                if extra and self.cls_token is None:
                    value, extra = value[:, extra:], 0
                side = int(round((value.shape[1] - extra)**0.5))
                state_dict[key] = resize_pos_embed(
                    value, (side, side),
                    self.grids[index],
                    mode='bilinear',
                    num_extra_tokens=extra)
            elif key.endswith('relative_position_bias_table') and \
                    value.ndim == 2 and value.shape[1] == target.shape[1]:
                side = int(round(value.shape[0]**0.5))
                if side * side != value.shape[0]:
                    continue  # left to the shape-mismatch report
                owner = self.get_submodule(key.rpartition('.')[0])
                state_dict[key] = resize_table(value, (side, side),
                                               owner.table_size)
        return state_dict


def _square_part(length: int) -> int:
    """The largest square <= length (the grid part of a position
    embedding with at most a few extra tokens)."""
    side = int(length**0.5)
    return side * side
