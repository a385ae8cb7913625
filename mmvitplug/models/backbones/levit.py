# Copyright (c) mmvitplug contributors.
"""LeViT backbone.

`Graham et al. 2021 <https://arxiv.org/abs/2104.01136>`_.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.layers import (DropPath, attend, record_weights,
                              recording_attention, tokens_to_featmap)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone

Grid = Tuple[int, int]


def _activation(act: str) -> nn.Module:
    acts = {'hardswish': nn.Hardswish, 'silu': nn.SiLU, 'gelu': nn.GELU,
            'relu': nn.ReLU}
    if act not in acts:
        raise ValueError(f"Unknown act '{act}'; choose from {sorted(acts)}")
    return acts[act]()


def subsampled(grid: Grid, stride: int = 2) -> Grid:
    """Grid after LeViT's subsampling: ``(H - 1) // stride + 1`` per axis."""
    return tuple((s - 1) // stride + 1 for s in grid)


class LinearBN(nn.Module):
    """Bias-free ``nn.Linear`` followed by ``BatchNorm1d`` over the tokens.

    Works on (..., C) tensors. :meth:`fuse` returns the equivalent
    ``nn.Linear`` for inference (running statistics folded in).

    Args:
        in_features (int): Input channels.
        out_features (int): Output channels.
        bn_weight_init (float): Initial BN scale. Defaults to 1.
    """

    def __init__(self, in_features: int, out_features: int,
                 bn_weight_init: float = 1.):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features)
        self.bn_weight_init = bn_weight_init
        nn.init.constant_(self.bn.weight, bn_weight_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to (..., C) tokens."""
        x = self.linear(x)
        return self.bn(x.flatten(0, -2)).view_as(x)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        """The equivalent ``nn.Linear`` with the BN folded in."""
        bn = self.bn
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        fused = nn.Linear(self.linear.in_features, self.linear.out_features)
        fused.to(self.linear.weight)
        fused.weight.copy_(self.linear.weight * scale[:, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        return fused


class ConvBN(nn.Module):
    """Bias-free 3x3 stride-2 ``nn.Conv2d`` followed by ``BatchNorm2d``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to (B, C, H, W) maps."""
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The equivalent ``nn.Conv2d`` with the BN folded in."""
        c, bn = self.conv, self.bn
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        fused = nn.Conv2d(c.in_channels, c.out_channels, 3, stride=2,
                          padding=1)
        fused.to(c.weight)
        fused.weight.copy_(c.weight * scale[:, None, None, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        return fused


class LeViTStem(nn.Module):
    """Four 3x3 stride-2 conv + BN layers (stride 16) with activations.

    Widths ``embed_dims / 8, / 4, / 2, 1``. :meth:`forward` can also return
    the activated maps at strides 2, 4 and 8 (dense pyramids).

    Args:
        in_channels (int): Image channels.
        embed_dims (int): Output channels (divisible by 8).
        act (str): Activation between the convolutions.
    """

    def __init__(self, in_channels: int, embed_dims: int, act: str):
        super().__init__()
        if embed_dims % 8:
            raise ValueError(
                f'embed_dims[0] ({embed_dims}) must be divisible by 8 (stem '
                'widths embed_dims / 8, / 4, / 2)')
        widths = [embed_dims // 8, embed_dims // 4, embed_dims // 2,
                  embed_dims]
        self.convs = nn.ModuleList(
            ConvBN(cin, cout)
            for cin, cout in zip([in_channels] + widths[:-1], widths))
        self.acts = nn.ModuleList(_activation(act) for _ in range(3))
        self.widths = widths

    def forward(self, x: torch.Tensor,
                keep: Sequence[int] = ()) -> Tuple[torch.Tensor, list]:
        """Images to stride-16 maps, and the activated maps after the convs
        of index ``keep`` (0: stride 2, 1: stride 4, 2: stride 8)."""
        kept = []
        for i, act in enumerate(self.acts):
            x = act(self.convs[i](x))
            if i in keep:
                kept.append(x)
        return self.convs[3](x), kept


def _bias_index(q_grid: Grid, k_grid: Grid, stride: int,
                table_w: int, device=None) -> torch.Tensor:
    """Indices (Nq, Nk) of ``|q * stride - k|`` offsets in a flattened
    (table_h, table_w) table: ``|dy| * table_w + |dx|``."""
    qy, qx = torch.meshgrid(
        torch.arange(q_grid[0], device=device) * stride,
        torch.arange(q_grid[1], device=device) * stride, indexing='ij')
    ky, kx = torch.meshgrid(
        torch.arange(k_grid[0], device=device),
        torch.arange(k_grid[1], device=device), indexing='ij')
    dy = (qy.reshape(-1, 1) - ky.reshape(1, -1)).abs()
    dx = (qx.reshape(-1, 1) - kx.reshape(1, -1)).abs()
    return dy * table_w + dx


class _BiasedAttention(nn.Module):
    """Shared machinery of LeViT's attentions: the attention-bias table
    (one learned bias per head and per absolute offset ``(|dy|, |dx|)``)
    gathered into an (H, Nq, Nk) bias for any grid, cached in eval mode.

    The table has one entry per offset of the ``resolution`` grid (the
    official layout: (num_heads, res_h * res_w), offset ``(dy, dx)`` at
    ``dy * res_w + dx``). A grid of another size uses the table resized
    bicubically (align_corners, so the zero offset keeps its bias) to the
    grid's offsets.
    """

    def _init_bias(self, num_heads: int, resolution: Grid, stride: int):
        self.resolution = tuple(resolution)
        self.stride = stride
        self.attention_biases = nn.Parameter(
            torch.zeros(num_heads, resolution[0] * resolution[1]))
        self._bias_cache: Dict[tuple, torch.Tensor] = {}
        self._index_cache: Dict[tuple, torch.Tensor] = {}

    def train(self, mode: bool = True):
        self._bias_cache = {}
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self._bias_cache = {}
        self._index_cache = {}
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self._bias_cache = {}
        return super()._load_from_state_dict(*args, **kwargs)

    def _table(self, k_grid: Grid) -> torch.Tensor:
        """Bias table (H, h * w) for a key grid ``k_grid``."""
        if k_grid == self.resolution:
            return self.attention_biases
        table = self.attention_biases.view(-1, 1, *self.resolution)
        table = F.interpolate(
            table, size=k_grid, mode='bicubic', align_corners=True)
        return table.flatten(1)

    def attention_bias(self, q_grid: Grid, k_grid: Grid) -> torch.Tensor:
        """The bias (H, Nq, Nk) for queries on ``q_grid`` (subsampled by
        ``stride`` from the key grid) and keys on ``k_grid``."""
        table = self.attention_biases
        cacheable = not self.training and not torch.is_grad_enabled()
        # the table's storage and version: in-place updates (EMA swaps,
        # optimiser steps in eval mode) invalidate the cached bias
        key = (q_grid, k_grid, table.device, table.dtype, table.data_ptr(),
               table._version)
        if cacheable and key in self._bias_cache:
            return self._bias_cache[key]
        index = self._index_cache.get(key[:3])
        if index is None:
            index = _bias_index(q_grid, k_grid, self.stride, k_grid[1],
                                table.device)
            self._index_cache[key[:3]] = index
        bias = self._table(k_grid)[:, index]
        if cacheable:
            self._bias_cache = {key: bias}  # one grid at a time
        return bias

    def _attend(self, q, k, v, bias):
        """softmax(q k^T * scale + bias) v, fused or explicit.

        The fused path is ``F.scaled_dot_product_attention`` with the bias
        as additive mask, except where the bias needs a gradient on CPU:
        there torch has no fused kernel for a differentiable mask and falls
        back to a math path that is slower than the explicit one (measured:
        -15% on LeViT-128S training), so the explicit path (the same
        function) runs.
        """
        if self.fused_attn and not (bias.requires_grad
                                    and q.device.type == 'cpu'
                                    or recording_attention()):
            return attend(q, k, v, scale=self.scale, mask=bias[None],
                          fused=True)
        attn = ((q * self.scale) @ k.transpose(-2, -1) + bias).softmax(-1)
        record_weights(attn)
        return attn @ v


class LeViTAttention(_BiasedAttention):
    """LeViT's multi-head self-attention with attention biases.

    q, k (``key_dim`` per head) and v (``attn_ratio * key_dim`` per head)
    from one :class:`LinearBN`; activation, then a :class:`LinearBN`
    projection (BN scale initialised to 0).

    Args:
        dim (int): Token channels.
        key_dim (int): Query / key channels per head.
        num_heads (int): Heads.
        attn_ratio (float): Value channels / key_dim.
        resolution (tuple[int, int]): Grid of the bias table.
        act (str): Activation before the projection.
        fused_attn (bool): Fused kernel. Defaults to True.
    """

    def __init__(self, dim: int, key_dim: int, num_heads: int,
                 attn_ratio: float, resolution: Grid, act: str,
                 fused_attn: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.val_dim = int(attn_ratio * key_dim)
        self.scale = key_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = LinearBN(dim,
                            num_heads * (2 * key_dim + self.val_dim))
        self.act = _activation(act)
        self.proj = LinearBN(num_heads * self.val_dim, dim, bn_weight_init=0)
        self._init_bias(num_heads, resolution, 1)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        """Attend over (B, N, C) tokens on ``grid``."""
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, self.num_heads, -1).transpose(
            1, 2).split([self.key_dim, self.key_dim, self.val_dim], dim=3)
        x = self._attend(q, k, v, self.attention_bias(grid, grid))
        x = x.transpose(1, 2).reshape(B, N, -1)
        return self.proj(self.act(x))


class LeViTAttentionSubsample(_BiasedAttention):
    """LeViT's shrinking attention between stages.

    Queries from the tokens of every ``stride``-th row and column (grid
    ``(H - 1) // stride + 1`` per axis), keys and values from all tokens;
    the output has ``out_dim`` channels on the subsampled grid.

    Args:
        in_dim (int): Input channels.
        out_dim (int): Output channels.
        key_dim (int): Query / key channels per head.
        num_heads (int): Heads.
        attn_ratio (float): Value channels / key_dim.
        resolution (tuple[int, int]): Input grid of the bias table.
        act (str): Activation before the projection.
        stride (int): Subsampling stride. Defaults to 2.
        fused_attn (bool): Fused kernel. Defaults to True.
    """

    def __init__(self, in_dim: int, out_dim: int, key_dim: int,
                 num_heads: int, attn_ratio: float, resolution: Grid,
                 act: str, stride: int = 2, fused_attn: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.val_dim = int(attn_ratio * key_dim)
        self.scale = key_dim**-0.5
        self.fused_attn = fused_attn
        self.kv = LinearBN(in_dim, num_heads * (key_dim + self.val_dim))
        self.q = LinearBN(in_dim, num_heads * key_dim)
        self.act = _activation(act)
        self.proj = LinearBN(num_heads * self.val_dim, out_dim)
        self._init_bias(num_heads, resolution, stride)

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        """(B, H*W, C) tokens on ``grid`` -> (B, H'*W', out_dim)."""
        B, N, C = x.shape
        q_grid = subsampled(grid, self.stride)
        k, v = self.kv(x).view(B, N, self.num_heads, -1).transpose(
            1, 2).split([self.key_dim, self.val_dim], dim=3)
        s = self.stride
        xq = x.view(B, *grid, C)[:, ::s, ::s].reshape(B, -1, C)
        q = self.q(xq).view(B, -1, self.num_heads,
                            self.key_dim).transpose(1, 2)
        x = self._attend(q, k, v, self.attention_bias(q_grid, grid))
        x = x.transpose(1, 2).reshape(B, q.shape[2], -1)
        return self.proj(self.act(x))


class LeViTMlp(nn.Module):
    """LinearBN, activation, LinearBN (BN scale initialised to 0)."""

    def __init__(self, dim: int, hidden: int, act: str):
        super().__init__()
        self.fc1 = LinearBN(dim, hidden)
        self.act = _activation(act)
        self.fc2 = LinearBN(hidden, dim, bn_weight_init=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LeViTBlock(nn.Module):
    """A LeViT layer: residual attention, then residual MLP.

    Args:
        dim (int): Token channels.
        key_dim (int): Query / key channels per head.
        num_heads (int): Heads.
        attn_ratio (float): Value channels / key_dim.
        mlp_ratio (float): MLP hidden channels / dim.
        resolution (tuple[int, int]): Grid of the bias table.
        act (str): Activation.
        drop_path (float): Stochastic depth of both branches.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, dim, key_dim, num_heads, attn_ratio, mlp_ratio,
                 resolution, act, drop_path=0., fused_attn=True):
        super().__init__()
        self.attn = LeViTAttention(dim, key_dim, num_heads, attn_ratio,
                                   resolution, act, fused_attn)
        self.mlp = LeViTMlp(dim, int(dim * mlp_ratio), act)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        x = x + self.drop_path(self.attn(x, grid))
        return x + self.drop_path(self.mlp(x))


class LeViTSubsampleBlock(nn.Module):
    """The layer opening stages 2 and 3: shrinking attention (no residual:
    channels and grid change), then a residual MLP.

    Args:
        in_dim (int): Input channels.
        out_dim (int): Output channels.
        key_dim (int): Query / key channels per head.
        num_heads (int): Heads (``in_dim // key_dim`` in the zoo).
        attn_ratio (float): Value channels / key_dim (4 in the zoo).
        mlp_ratio (float): MLP hidden channels / out_dim (2 in the zoo).
        resolution (tuple[int, int]): Input grid of the bias table.
        act (str): Activation.
        drop_path (float): Stochastic depth of the MLP branch.
        fused_attn (bool): Fused attention kernel.
    """

    def __init__(self, in_dim, out_dim, key_dim, num_heads, attn_ratio,
                 mlp_ratio, resolution, act, drop_path=0., fused_attn=True):
        super().__init__()
        self.attn = LeViTAttentionSubsample(in_dim, out_dim, key_dim,
                                            num_heads, attn_ratio,
                                            resolution, act, 2, fused_attn)
        self.mlp = LeViTMlp(out_dim, int(out_dim * mlp_ratio), act)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        x = self.attn(x, grid)
        return x + self.drop_path(self.mlp(x))


def _fuse_bn(module: nn.Module):
    """Replace every :class:`LinearBN` / :class:`ConvBN` below ``module`` by
    its fused layer, in place."""
    for name, child in module.named_children():
        if isinstance(child, (LinearBN, ConvBN)):
            setattr(module, name, child.fuse())
        else:
            _fuse_bn(child)


@MODELS.register_module()
class LeViT(VisionBackbone):
    """LeViT: a vision transformer in convnet's clothing.

    A stride-16 convolutional stem (four 3x3 stride-2 conv + BN,
    Hardswish) feeds three stages of attention + MLP layers on tokens, with
    BatchNorm after every linear layer, attention biases (one per head and
    relative offset) instead of position embeddings, and a shrinking
    attention layer opening stages 2 and 3 (stride 2: stages at 1/16, 1/32,
    1/64) (`LeViT <https://arxiv.org/abs/2104.01136>`_).

    Beyond the official code and timm, every grid size works: the
    subsampling takes ``(H - 1) // 2 + 1`` rows and columns, and the
    attention-bias tables (learned on the ``img_size`` grids) are resized
    bicubically to other grids. Gathered biases are cached in inference
    (eval mode without grad) per grid. :meth:`fuse` folds every BatchNorm
    into the preceding linear / conv layer for inference.

    Parameter layout: ``patch_embed.convs.{0..3}.{conv,bn}``,
    ``stages.{s}.{j}.attn.{qkv,proj}.{linear,bn}`` (layers of stage s; in
    stages 1 and 2 layer 0 is the subsampling layer,
    ``attn.{kv,q,proj}``), ``....attn.attention_biases``,
    ``....mlp.{fc1,fc2}.{linear,bn}``. Official and timm checkpoints load
    through :func:`mmvitplug.converters.convert_levit`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``key_dim``, ``num_heads``, ``depths`` (lists
            with one entry per stage but ``key_dim``) and optionally
            ``attn_ratio``, ``mlp_ratio`` (per stage, default 2 each),
            ``down_attn_ratio`` (4), ``down_mlp_ratio`` (2), ``act``
            ('hardswish'). Defaults to 'levit-128s'.
        img_size (int | tuple[int, int]): Image size the attention-bias
            tables are learned for (grids of other inputs resize them).
            Defaults to 224.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned.
            Defaults to -1.
        out_type (str): 'avg_featmap' (B, C) mean of the tokens (LeViT's
            classifier input), 'featmap' (B, C, H, W) NCHW maps or 'raw'
            (B, H*W, C) tokens. Defaults to 'avg_featmap'.
        stem_out_strides (Sequence[int]): Activated stem maps (strides 2,
            4 or 8) returned before the stage outputs, only with
            ``out_type='featmap'`` (dense pyramids at 1/4 and 1/8: the
            stages are at 1/16..1/64). Defaults to ().
        drop_path_rate (float): Stochastic depth of every residual branch
            (uniform, as the official code). Defaults to 0.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and
            the first k stages. Defaults to -1.
        fused_attn (bool): Fused attention kernel (``attend``) with the
            biases as additive mask; False materialises the weights.
            Defaults to True.
        with_cp (bool): Gradient checkpointing of every layer in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm checkpoints. Defaults to None.
    """
    arch_zoo = {
        'levit-128s':
        dict(embed_dims=[128, 256, 384], key_dim=16, num_heads=[4, 6, 8],
             depths=[2, 3, 4]),
        'levit-128':
        dict(embed_dims=[128, 256, 384], key_dim=16, num_heads=[4, 8, 12],
             depths=[4, 4, 4]),
        'levit-192':
        dict(embed_dims=[192, 288, 384], key_dim=32, num_heads=[3, 5, 6],
             depths=[4, 4, 4]),
        'levit-256':
        dict(embed_dims=[256, 384, 512], key_dim=32, num_heads=[4, 6, 8],
             depths=[4, 4, 4]),
        'levit-384':
        dict(embed_dims=[384, 512, 768], key_dim=32, num_heads=[6, 9, 12],
             depths=[4, 4, 4]),
    }
    arch_keys = ('embed_dims', 'key_dim', 'num_heads', 'depths')
    optional_arch_keys = ('attn_ratio', 'mlp_ratio', 'down_attn_ratio',
                          'down_mlp_ratio', 'act')
    out_types = ('avg_featmap', 'featmap', 'raw')
    stage_unit = 'stages'
    num_stages_key = 'depths'
    parts = Parts(stem=('patch_embed', ), stages='stages')
    stem_strides = (2, 4, 8)

    def __init__(self,
                 arch: Union[str, dict] = 'levit-128s',
                 img_size: Union[int, Sequence[int]] = 224,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 stem_out_strides: Sequence[int] = (),
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        s = self.arch_settings
        n = self.num_stages
        dims, heads, depths = s['embed_dims'], s['num_heads'], s['depths']
        attn_ratio = s.get('attn_ratio', [2.] * n)
        mlp_ratio = s.get('mlp_ratio', [2.] * n)
        for name, value in (('embed_dims', dims), ('num_heads', heads),
                            ('attn_ratio', attn_ratio),
                            ('mlp_ratio', mlp_ratio)):
            if len(value) != n:
                raise ValueError(
                    f'arch {name} needs one entry per stage ({n} stages, '
                    f'from depths {list(depths)}), got {list(value)}')
        if depths[0] < 1 or min(depths) < 0:
            raise ValueError(f'arch depths must be >= 1 for the first stage'
                             f' and >= 0 after, got {list(depths)}')
        act = s.get('act', 'hardswish')
        key_dim = s['key_dim']
        stem_out_strides = tuple(stem_out_strides)
        bad = [x for x in stem_out_strides if x not in self.stem_strides]
        if bad:
            raise ValueError(f'stem_out_strides {list(bad)} are not stem '
                             f'strides; choose from {list(self.stem_strides)}')
        if stem_out_strides and out_type != 'featmap':
            raise ValueError(
                "stem_out_strides needs out_type='featmap' (stem maps are "
                f"NCHW maps), got out_type='{out_type}'")
        self.stem_out_strides = tuple(sorted(set(stem_out_strides)))
        self._stem_keep = tuple(
            self.stem_strides.index(x) for x in self.stem_out_strides)
        img_size = (img_size, img_size) if isinstance(img_size, int) else \
            tuple(img_size)
        self.img_size = img_size
        self.embed_dims = list(dims)
        self.key_dim = key_dim
        self.patch_size = 16
        self.num_layers = sum(depths) + n - 1
        self.fused_attn = fused_attn
        self._stem_maps: List[torch.Tensor] = []

        self.patch_embed = LeViTStem(in_channels, dims[0], act)
        grid = tuple(math.ceil(x / 16) for x in img_size)
        self.stages = nn.ModuleList()
        for i in range(n):
            layers = []
            if i > 0:
                layers.append(
                    LeViTSubsampleBlock(
                        dims[i - 1], dims[i], key_dim,
                        dims[i - 1] // key_dim,
                        s.get('down_attn_ratio', 4.),
                        s.get('down_mlp_ratio', 2.), grid, act,
                        drop_path_rate, fused_attn))
                grid = subsampled(grid)
            layers += [
                LeViTBlock(dims[i], key_dim, heads[i], attn_ratio[i],
                           mlp_ratio[i], grid, act, drop_path_rate,
                           fused_attn) for _ in range(depths[i])
            ]
            self.stages.append(nn.ModuleList(layers))

    def init_default_weights(self):
        """timm's initialisation: PyTorch defaults for the linear and conv
        layers, zero attention biases (BN scales set at construction)."""
        for m in self.modules():
            if isinstance(m, _BiasedAttention):
                nn.init.zeros_(m.attention_biases)

    # ------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """Stem: images -> (B, H/16 * W/16, C) tokens and the grid."""
        if x.dim() != 4:
            raise ValueError(
                f'LeViT expects images (B, C, H, W), got {tuple(x.shape)}')
        # channels-last convolutions are faster (mkldnn), and the stem
        # output is then already in token order: flatten + transpose is free
        x = x.contiguous(memory_format=torch.channels_last)
        x, kept = self.patch_embed(x, self._stem_keep)
        self._stem_maps = [m.contiguous() for m in kept]
        grid = tuple(x.shape[-2:])
        return x.flatten(2).transpose(1, 2), grid

    def forward_stage(self, index: int, x, grid):
        for layer in self._stage_layers[index]:
            x = self.run_layer(layer, x, grid)
            if isinstance(layer, LeViTSubsampleBlock):
                grid = subsampled(grid)
        return x, grid

    def format_output(self, x, index: int, grid):
        if self.out_type == 'avg_featmap':
            return x.mean(dim=1)
        if self.out_type == 'featmap':
            return tokens_to_featmap(x, grid)
        return x

    def forward(self, x: torch.Tensor) -> tuple:
        """Extract features: the ``stem_out_strides`` maps, then one output
        per ``out_indices`` entry."""
        outs = super().forward(x)
        stem, self._stem_maps = self._stem_maps, []
        return tuple(stem) + outs

    # ----------------------------------------------------------- inference
    def fuse(self) -> 'LeViT':
        """Fold every BatchNorm into its linear / conv layer, in place.

        Call in eval mode after training or loading; the fused model gives
        the same outputs in eval mode (its state dict has ``weight`` /
        ``bias`` per layer instead of ``linear`` + ``bn``).

        Returns:
            LeViT: self.
        """
        if self.training:
            raise RuntimeError('LeViT.fuse() folds the BN running '
                               'statistics: call it in eval mode')
        _fuse_bn(self)
        return self

    switch_to_deploy = fuse

    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize checkpoint attention-bias tables learned on other grids
        (bicubic, align_corners) to this model's tables."""
        own = self.state_dict()
        for key, value in list(state_dict.items()):
            if not key.endswith('attention_biases') or key not in own or \
                    value.shape == own[key].shape or value.ndim != 2:
                continue
            owner = self.get_submodule(key.rpartition('.')[0])
            side = math.isqrt(value.shape[1])
            if side * side != value.shape[1]:
                continue  # left to the shape-mismatch report
            table = value.view(value.shape[0], 1, side, side)
            state_dict[key] = F.interpolate(
                table.float(), size=owner.resolution, mode='bicubic',
                align_corners=True).flatten(1).to(value.dtype)
        return state_dict


__all__ = ['LeViT', 'LinearBN', 'ConvBN']
