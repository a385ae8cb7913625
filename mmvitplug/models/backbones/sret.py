# Copyright (c) mmvitplug contributors.
"""SReT: recursive transformer blocks (weights shared across depth) with
sliced group self-attention.

`Shen et al. 2022, "Sliced Recursive Transformer"
<https://arxiv.org/abs/2111.05297>`_; official code: szq0214/SReT.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import Attention, DropPath, Mlp, attend
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_tokens

Size = Tuple[int, int]


class Coefficient(nn.Module):
    """A learnable scalar, initialised to 1, multiplying its input (the
    official ``LearnableCoefficient``, its parameter named ``bias``)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.bias


class SlicedAttention(Attention):
    """Sliced group self-attention: the token sequence is cut into
    ``groups`` contiguous slices and each slice attends within itself;
    ``permute=True`` shuffles the tokens first (and restores the order
    after), so that the slices mix distant tokens.

    A sequence the groups do not divide is padded at its end and the
    padded keys masked (the official code needs divisible lengths).
    Computed through :func:`mmvitplug.layers.attend` (fused or explicit).

    Args:
        dim (int): Token channels.
        num_heads (int): Heads.
        qkv_bias (bool): Biases of the q, k, v projection.
        attn_drop (float): Dropout on the attention weights.
        proj_drop (float): Dropout after the output projection.
        fused_attn (bool): Fused attention kernel.
    """

    def forward(self,
                x: torch.Tensor,
                groups: int = 1,
                permute: bool = False,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Attend within ``groups`` slices of the tokens (B, N, C);
        ``permute``: through a random permutation drawn from ``generator``
        (None: the global CPU generator, as the official code)."""
        B, N, C = x.shape
        inverse = None
        if permute and groups > 1:
            order = torch.randperm(N, generator=generator).to(x.device)
            x, inverse = x[:, order], torch.argsort(order)
        pad = -N % groups
        if pad:
            x = F.pad(x, (0, 0, 0, pad))
        n = (N + pad) // groups
        qkv = self.qkv(x).reshape(B, groups, n, 3, self.num_heads,
                                  self.head_dim)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).reshape(
            3, B, groups * self.num_heads, n, self.head_dim)
        mask = None
        if pad:
            valid = torch.arange(N + pad, device=x.device) < N
            mask = valid.reshape(groups, 1, n).repeat_interleave(
                self.num_heads, 0)[None]
        out = attend(
            q, k, v,
            scale=self.scale,
            mask=mask,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        out = out.reshape(B, groups, self.num_heads, n, self.head_dim)
        out = out.transpose(2, 3).reshape(B, N + pad, C)[:, :N]
        if inverse is not None:
            out = out[:, inverse]
        return self.proj_drop(self.proj(out))


class SReTBlock(nn.Module):
    """Pre-norm block with learnable residual coefficients:
    ``x = c1 x + c2 attn(norm1(x))``, ``x = c3 x + c4 mlp(norm2(x))``
    (each branch with stochastic depth)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float,
                 drop_path: float, fused_attn: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SlicedAttention(dim, num_heads, qkv_bias, attn_drop,
                                    drop, fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        for i in range(1, 5):
            self.add_module(f'coefficient{i}', Coefficient())

    def forward(self, x: torch.Tensor, groups: int, permute: bool,
                generator: Optional[torch.Generator]) -> torch.Tensor:
        y = self.attn(self.norm1(x), groups, permute, generator)
        x = self.coefficient1(x) + self.coefficient2(self.drop_path(y))
        y = self.mlp(self.norm2(x))
        return self.coefficient3(x) + self.coefficient4(self.drop_path(y))


class NonLinearProjection(nn.Module):
    """Between two applications of a shared block: ``c1 x + c2
    mlp(norm(x))`` (the official ``Non_proj``)."""

    def __init__(self, dim: int, mlp_ratio: float, drop: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.coefficient1 = Coefficient()
        self.coefficient2 = Coefficient()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.coefficient1(x) + self.coefficient2(
            self.mlp(self.norm1(x)))


class RecursiveUnit(nn.Module):
    """One block applied twice (shared weights), each application followed
    by its own non-linear projection: the first attends in ``groups1``
    contiguous slices, the second in ``groups2`` slices of randomly
    permuted tokens.

    Args:
        block (SReTBlock): The shared block.
        projs (list[NonLinearProjection]): The two projections.
        groups1 (int): Slices of the first application.
        groups2 (int): Slices of the second.
    """

    def __init__(self, block: SReTBlock, projs, groups1: int, groups2: int):
        super().__init__()
        self.block = block
        self.projs = nn.ModuleList(projs)
        self.groups1 = groups1
        self.groups2 = groups2

    def forward(self, x: torch.Tensor,
                generator: Optional[torch.Generator]) -> torch.Tensor:
        x = self.projs[0](self.block(x, self.groups1, False, generator))
        return self.projs[1](self.block(x, self.groups2, True, generator))


class ConvEmbedding(nn.Module):
    """Three 3x3 stride-2 convolutions with BN and ReLU (stride 8; the
    first to half the channels)."""

    def __init__(self, in_channels: int, dims: int):
        super().__init__()
        channels = [in_channels, dims // 2, dims, dims]
        for i in range(3):
            self.add_module(
                f'conv{i + 1}',
                nn.Conv2d(channels[i], channels[i + 1], 3, 2, 1))
            self.add_module(f'bn{i + 1}', nn.BatchNorm2d(channels[i + 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 4):
            bn = getattr(self, f'bn{i}')
            x = F.relu(bn(getattr(self, f'conv{i}')(x)), inplace=True)
        return x


class ConvPooling(nn.Module):
    """Grouped 3x3 stride-2 convolution between stages (PiT's pooling, no
    class token)."""

    def __init__(self, in_dims: int, out_dims: int):
        super().__init__()
        self.conv = nn.Conv2d(
            in_dims, out_dims, 3, padding=1, stride=2, groups=in_dims)

    def forward(self, x: torch.Tensor, grid: Size):
        B, N, C = x.shape
        x = self.conv(x.transpose(1, 2).reshape(B, C, *grid))
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


@MODELS.register_module()
class SReT(VisionBackbone):
    """SReT: a three-stage PiT-like pyramid of recursive units with sliced
    group self-attention.

    A convolutional stem (three 3x3 stride-2 convolutions, BN, ReLU) and a
    spatial position embedding feed stages at strides 8, 16 and 32; every
    stage after the first opens with a grouped stride-2 convolution. A
    stage is a sequence of recursive units: one transformer block (with
    learnable residual coefficients) applied twice with shared weights,
    a non-linear projection after each application; the first application
    attends within ``groups1`` contiguous slices of the token sequence,
    the second within ``groups2`` slices of randomly permuted tokens
    (``groups2`` = 1: plain attention). The classifier reads the
    LayerNorm ``norm`` of the mean of the last stage's tokens
    (``out_type='pre_logits'``; the other out_types build no ``norm``, and
    a checkpoint's is reported unused).

    **Determinism.** The official code draws the permutations from the
    global CPU generator in training and evaluation alike, so its
    evaluation is random. Here training does the same (reproducible under
    the runner's seed), while in eval mode every forward draws them from a
    generator seeded with ``slice_seed``: evaluation is deterministic, and
    equals the official model run right after
    ``torch.manual_seed(slice_seed)``.

    Any input of at least 32x32 works: the stride-2 convolutions round
    sides up, the position embedding made for ``img_size`` is resized
    bicubically to other grids (on the fly and on load), and slices that
    do not divide the sequence are padded and masked. Dense prediction
    feeds the three stage maps (strides 8 / 16 / 32) to an FPN.

    The official ``Transformer.blocks`` lists each shared block twice; its
    checkpoints load after :func:`mmvitplug.converters.convert_sret`,
    which checks that the aliases are one tensor.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_heads``, ``depths`` (recursive units: the
            official depth / 2), ``groups1`` and ``groups2`` (per stage),
            ``mlp_ratio`` and ``np_mlp_ratio`` (the projections' MLP).
            Defaults to 'sret-t'.
        img_size (int): Input size the position embedding is made for.
            Defaults to 224.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'pre_logits' (B, C) the mean of the last stage's
            tokens through ``norm`` (the official classifier's input; last
            stage only), 'avg_featmap' (B, C_i) plain means of the tokens,
            'featmap' (B, C_i, H_i, W_i) maps or 'raw' (B, H_i * W_i, C_i)
            tokens. Defaults to 'pre_logits'.
        slice_seed (int): Seed of the eval-mode permutations.
            Defaults to 0.
        drop_rate (float): Dropout after the position embedding, the
            attention and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float): Stochastic depth of the blocks, spread as
            the official code does: unit u of a stage whose units start
            after k official layers gets ``rate * (k + u) / (2 * all
            units)``. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages (``norm`` when k == 3).
            Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'sret-t':
        dict(
            embed_dims=[64, 128, 256],
            num_heads=[2, 4, 8],
            depths=[2, 5, 3],
            groups1=[8, 4, 1],
            groups2=[2, 1, 1],
            mlp_ratio=3.6,
            np_mlp_ratio=1.),
        'sret-lt':
        dict(
            embed_dims=[64, 128, 256],
            num_heads=[2, 4, 8],
            depths=[2, 5, 3],
            groups1=[8, 4, 1],
            groups2=[2, 1, 1],
            mlp_ratio=4.,
            np_mlp_ratio=1.),
        'sret-s':
        dict(
            embed_dims=[126, 252, 504],
            num_heads=[3, 6, 12],
            depths=[2, 5, 3],
            groups1=[8, 4, 1],
            groups2=[2, 1, 1],
            mlp_ratio=3.,
            np_mlp_ratio=2.),
    }
    # the models without slices of the official README (SReT_wo_slice.py)
    for _name in ('t', 'lt', 's'):
        arch_zoo[f'sret-{_name}-noslice'] = dict(
            arch_zoo[f'sret-{_name}'], groups1=[1, 1, 1], groups2=[1, 1, 1])
    del _name
    arch_keys = ('embed_dims', 'num_heads', 'depths', 'groups1', 'groups2',
                 'mlp_ratio', 'np_mlp_ratio')
    out_types = ('pre_logits', 'avg_featmap', 'featmap', 'raw')
    final_only_out_types = {
        'pre_logits': '``norm`` is made for the last stage'
    }
    num_stages_key = 'depths'
    stage_unit = 'stages'
    parts = Parts(
        stem=('patch_embed', 'pos_embed', 'pos_drop'),
        stages='stages',
        top=('norm', ))
    trunc_normal_params = ('pos_embed', )
    patch_size = 8

    def __init__(self,
                 arch: Union[str, dict] = 'sret-t',
                 img_size: int = 224,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'pre_logits',
                 slice_seed: int = 0,
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
        per_stage = self.stage_settings('embed_dims', 'num_heads', 'groups1',
                                        'groups2')
        depths = per_stage['depths']
        dims = per_stage['embed_dims']
        self.embed_dims = dims
        self.depths = depths
        self.slice_seed = slice_seed
        self.grid = img_size // self.patch_size
        if self.grid < 1:
            raise ValueError(f'img_size must be at least 8, got {img_size}')

        self.patch_embed = ConvEmbedding(in_channels, dims[0])
        self.pos_embed = nn.Parameter(
            torch.zeros(1, dims[0], self.grid, self.grid))
        self.pos_drop = nn.Dropout(drop_rate)
        total = 2 * sum(depths)  # the official layer count
        start = 0
        self.stages = nn.ModuleList()
        for i, units in enumerate(depths):
            layers = [ConvPooling(dims[i - 1], dims[i])] if i else []
            for u in range(units):
                block = SReTBlock(
                    dims[i],
                    per_stage['num_heads'][i],
                    settings['mlp_ratio'],
                    qkv_bias=True,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=drop_path_rate * (start + u) / total,
                    fused_attn=fused_attn)
                projs = [
                    NonLinearProjection(dims[i], settings['np_mlp_ratio'],
                                        drop_rate) for _ in range(2)
                ]
                layers.append(
                    RecursiveUnit(block, projs, per_stage['groups1'][i],
                                  per_stage['groups2'][i]))
            start += 2 * units
            self.stages.append(nn.ModuleList(layers))
        # the classifier's norm: built for 'pre_logits' only
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6) \
            if out_type == 'pre_logits' else None

    def init_default_weights(self):
        """The official initialisation: a truncated normal (std 0.02) for
        the position embedding and unit LayerNorms; linear and convolution
        layers keep PyTorch's default initialisation."""
        trunc_normal_(self.pos_embed, std=.02)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """Stem and position embedding: tokens (B, H/8 * W/8, C_0) and the
        context (grid, permutation generator)."""
        if min(x.shape[-2:]) < 32:
            raise ValueError(
                f'SReT needs images of at least 32x32 (stride 32 of the '
                f'last stage), got {x.shape[-2]}x{x.shape[-1]}')
        x = self.patch_embed(x)
        grid = (x.shape[2], x.shape[3])
        pos_embed = self.pos_embed
        if grid != (self.grid, self.grid):
            pos_embed = F.interpolate(
                pos_embed, size=grid, mode='bicubic', align_corners=False)
        x = self.pos_drop(x + pos_embed).flatten(2).transpose(1, 2)
        generator = None
        if not self.training:
            generator = torch.Generator().manual_seed(self.slice_seed)
        return x, (grid, generator)

    def forward_stage(self, index: int, x: torch.Tensor, context):
        """The pooling (stages after the first), then the recursive units.
        """
        grid, generator = context
        layers = self._stage_layers[index]
        if index:
            x, grid = self.run_layer(layers[0], x, grid)
            layers = layers[1:]
        for unit in layers:
            x = self.run_layer(unit, x, generator)
        return x, (grid, generator)

    def format_output(self, x: torch.Tensor, index: int, context):
        """The stage's tokens as ``out_type`` says."""
        if self.out_type == 'pre_logits':
            return self.norm(x.mean(dim=1))
        return format_tokens(x, self.out_type, context[0])

    # ------------------------------------------------------------- weights
    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """A checkpoint position embedding of another grid, resized
        bicubically to this model's."""
        value = state_dict.get('pos_embed')
        if value is not None and value.ndim == 4 and \
                value.shape[1] == self.pos_embed.shape[1] and \
                value.shape[2:] != self.pos_embed.shape[2:]:
            state_dict['pos_embed'] = F.interpolate(
                value.float(),
                size=(self.grid, self.grid),
                mode='bicubic',
                align_corners=False).to(value.dtype)
        return state_dict
