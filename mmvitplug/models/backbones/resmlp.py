# Copyright (c) mmvitplug contributors.
"""ResMLP backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2105.03404>`_.
"""
import math
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import Affine, DropPath, LayerScale, Mlp, PatchEmbed
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_tokens


def resize_linear_tokens(weight: torch.Tensor,
                         bias: Optional[torch.Tensor],
                         src_grid: Sequence[int],
                         dst_grid: Sequence[int],
                         mode: str = 'bilinear'):
    """Resize a cross-patch linear layer to another patch grid.

    The (N, N) weight maps input patch (hj, wj) to output patch (hi, wi), so
    it is a 4-D kernel ``W[hi, wi, hj, wj]`` over two copies of the grid.
    Both grids are interpolated (``align_corners=False``), then the weight is
    multiplied by ``N_src / N_dst`` so that every output still sums its
    inputs with the same total weight (a constant input stays constant);
    the bias is interpolated like an image. Downsampling by an integer
    factor with 'bilinear' maps the identity onto the identity.

    Args:
        weight (torch.Tensor): Weight of shape (Hs*Ws, Hs*Ws).
        bias (torch.Tensor, optional): Bias of shape (Hs*Ws, ).
        src_grid (Sequence[int]): Patch grid (Hs, Ws) of ``weight``.
        dst_grid (Sequence[int]): Target patch grid (Hd, Wd).
        mode (str): Mode of :func:`F.interpolate`. Defaults to 'bilinear'.

    Returns:
        tuple: The weight (Hd*Wd, Hd*Wd) and bias (Hd*Wd, ) (None when
        ``bias`` is None), in the input dtypes.
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    n_src, n_dst = math.prod(src_grid), math.prod(dst_grid)
    if weight.shape != (n_src, n_src):
        raise ValueError(f'linear_tokens weight of shape '
                         f'{tuple(weight.shape)} does not match the '
                         f'{src_grid[0]}x{src_grid[1]} grid ({n_src} patches)')
    if bias is not None and bias.shape != (n_src, ):
        raise ValueError(f'linear_tokens bias of shape {tuple(bias.shape)} '
                         f'does not match {n_src} patches')
    align = False if mode in ('bilinear', 'bicubic') else None
    w = weight.float().reshape(n_src, 1, *src_grid)  # inputs on the grid
    w = F.interpolate(w, size=dst_grid, mode=mode, align_corners=align)
    w = w.reshape(*src_grid, n_dst).permute(2, 0, 1).unsqueeze(1)
    w = F.interpolate(w, size=dst_grid, mode=mode, align_corners=align)
    w = w.reshape(n_dst, n_dst).t() * (n_src / n_dst)
    if bias is not None:
        b = F.interpolate(
            bias.float().reshape(1, 1, *src_grid),
            size=dst_grid,
            mode=mode,
            align_corners=align)
        bias = b.reshape(n_dst).to(bias.dtype)
    return w.contiguous().to(weight.dtype), bias


class CrossPatchLinear(nn.Linear):
    """Linear layer over the token axis, shared by all channels.

    Maps (B, N, C) to (B, N, C) with an (N, N) weight: ResMLP's
    "cross-patch sublayer", tied to the number of patches N.

    Args:
        num_patches (int): Number of tokens N.
    """

    def __init__(self, num_patches: int):
        super().__init__(num_patches, num_patches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix the tokens (dimension 1) of ``x``."""
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ResMLPBlock(nn.Module):
    """Residual MLP block: cross-patch linear, then per-patch MLP.

    Each residual branch is pre-normalised with :class:`Affine` and
    post-scaled with :class:`LayerScale` (the paper's post-affine).
    Parameter names follow timm (``norm1``, ``linear_tokens``, ``ls1``,
    ``norm2``, ``mlp_channels``, ``ls2``); the official ``attn``, ``mlp``,
    ``gamma_1``, ``gamma_2`` are mapped by
    :func:`mmvitplug.converters.convert_resmlp`.

    Args:
        dim (int): Channels.
        num_patches (int): Number of tokens the cross-patch layer mixes.
        feedforward_channels (int): Hidden channels of the MLP.
        init_values (float): Initial LayerScale value.
        drop (float): Dropout in the MLP. Defaults to 0.
        drop_path (float): Stochastic-depth rate of both branches.
            Defaults to 0.
    """

    def __init__(self,
                 dim: int,
                 num_patches: int,
                 feedforward_channels: int,
                 init_values: float,
                 drop: float = 0.,
                 drop_path: float = 0.):
        super().__init__()
        self.norm1 = Affine(dim)
        self.linear_tokens = CrossPatchLinear(num_patches)
        self.ls1 = LayerScale(dim, init_values)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = Affine(dim)
        self.mlp_channels = Mlp(dim, feedforward_channels, drop=drop)
        self.ls2 = LayerScale(dim, init_values)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to tokens (B, N, C)."""
        x = x + self.drop_path1(self.ls1(self.linear_tokens(self.norm1(x))))
        x = x + self.drop_path2(self.ls2(self.mlp_channels(self.norm2(x))))
        return x


@MODELS.register_module()
class ResMLP(VisionBackbone):
    """ResMLP backbone: residual MLPs over patches, no attention, no token.

    `ResMLP <https://arxiv.org/abs/2105.03404>`_ embeds patches, then
    alternates a linear layer across patches (shared by the channels) and an
    MLP across channels (shared by the patches), each in a residual branch
    with :class:`~mmvitplug.layers.affine.Affine` pre-normalisation and
    LayerScale. There is no class token and no position embedding: the
    classifier reads the mean of the tokens after the final Affine.

    The cross-patch layers are (N, N) matrices, so the model only runs on
    the patch grid it is built for (``img_size / patch_size``): other input
    sizes raise a ``ValueError``. To use another size, build the backbone
    with that ``img_size`` and load the weights through
    ``init_cfg=dict(type='Pretrained', ...)``: the ``linear_tokens`` of a
    checkpoint with another square grid are resized with
    :func:`resize_linear_tokens`. Detection and segmentation configs must
    therefore feed fixed-size (padded) inputs.

    Parameter names follow the official repository (``patch_embed.proj``,
    Affine ``alpha`` / ``beta`` of shape (C, )) and timm (blocks, see
    :class:`ResMLPBlock`); :func:`mmvitplug.converters.convert_resmlp`
    maps both layouts.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``feedforward_channels``,
            ``init_values`` (and optionally ``patch_size``, ``img_size``).
            Defaults to 'resmlp-12'.
        img_size (int | tuple[int, int], optional): Input size, which fixes
            the patch grid of the cross-patch layers. Defaults to the arch's
            (224).
        patch_size (int, optional): Patch size. Defaults to the arch's (16,
            or 8 for 'resmlp-big-24').
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Blocks whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'avg_featmap' (B, C) mean of the tokens, 'featmap'
            (B, C, H/p, W/p) or 'raw' (B, N, C). ResMLP has no class token,
            so 'cls_token' is rejected. Defaults to 'avg_featmap'.
        final_norm (bool): Affine after the last block. Defaults to True.
        drop_rate (float): Dropout in the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic-depth rate, the same for every
            block as in the official code and timm. Defaults to 0.
        layer_scale_init_value (float, optional): Initial LayerScale value.
            Defaults to the arch's (0.1 for 12 layers, 1e-5 for 24 and 1e-6
            for 36 layers and 'resmlp-big-24', as in the paper).
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            embedding; k > 0 also the first k blocks (and the final Affine
            when k == num_layers). Frozen parts stay in eval mode.
            Defaults to -1.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm ResMLP checkpoints. Defaults
            to None.
    """
    arch_zoo: Dict[str, dict] = {
        'resmlp-12':
        dict(embed_dims=384, num_layers=12, feedforward_channels=1536,
             init_values=0.1, patch_size=16, img_size=224),
        'resmlp-24':
        dict(embed_dims=384, num_layers=24, feedforward_channels=1536,
             init_values=1e-5, patch_size=16, img_size=224),
        'resmlp-36':
        dict(embed_dims=384, num_layers=36, feedforward_channels=1536,
             init_values=1e-6, patch_size=16, img_size=224),
        'resmlp-big-24':
        dict(embed_dims=768, num_layers=24, feedforward_channels=3072,
             init_values=1e-6, patch_size=8, img_size=224),
    }
    arch_keys = ('embed_dims', 'num_layers', 'feedforward_channels',
                 'init_values')
    optional_arch_keys = ('patch_size', 'img_size')
    out_types = ('avg_featmap', 'featmap', 'raw')
    token_pruning_note = (
        'its token-mixing layer is a linear map over a fixed number of '
        'tokens and it has no class token')
    out_type_hints = {
        'cls_token': (' (ResMLP has no class token; use avg_featmap, the '
                      'mean of the tokens)')
    }
    parts = Parts(
        stem=('patch_embed', ),
        stages='blocks',
        top=('norm', ))

    def __init__(self,
                 arch: Union[str, dict] = 'resmlp-12',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 final_norm: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        if img_size is None:
            img_size = settings.get('img_size', 224)
        if patch_size is None:
            patch_size = settings.get('patch_size', 16)
        self.patch_size = patch_size
        if layer_scale_init_value is None:
            layer_scale_init_value = settings['init_values']
        self.final_norm = final_norm

        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels,
                                      self.embed_dims)
        self.num_patches = self.patch_embed.num_patches
        self.blocks = nn.ModuleList([
            ResMLPBlock(
                self.embed_dims,
                self.num_patches,
                settings['feedforward_channels'],
                init_values=layer_scale_init_value,
                drop=drop_rate,
                drop_path=drop_path_rate) for _ in range(self.num_layers)
        ])
        self.norm = Affine(self.embed_dims) if final_norm else nn.Identity()

    # -------------------------------------------------------------- weights
    def init_default_weights(self):
        """Truncated normal (std 0.02) linear layers, Affine ones / zeros."""
        self.apply(self._init_layer)

    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize every ``linear_tokens`` tensor of a checkpoint made for
        another (square) patch grid to this model's grid with
        :func:`resize_linear_tokens`; called by
        :func:`mmvitplug.models.utils.load_pretrained`."""
        state_dict = dict(state_dict)
        dst = self.patch_embed.grid_size
        pattern = re.compile(r'(.*linear_tokens\.)weight')
        for key in list(state_dict):
            match = pattern.fullmatch(key)
            if not match or state_dict[key].shape == (self.num_patches, ) * 2:
                continue
            n = state_dict[key].shape[-1]
            side = math.isqrt(n)
            if state_dict[key].ndim != 2 or side * side != n:
                raise ValueError(
                    f'{key} has shape {tuple(state_dict[key].shape)}: not '
                    'the (N, N) weight of a square patch grid, so it cannot '
                    f'be resized to this model\'s {dst[0]}x{dst[1]} grid; '
                    'build the backbone with the img_size the checkpoint '
                    'was trained at')
            bias_key = match.group(1) + 'bias'
            weight, bias = resize_linear_tokens(
                state_dict[key], state_dict.get(bias_key), (side, side), dst)
            state_dict[key] = weight
            if bias is not None:
                state_dict[bias_key] = bias
            print_log(
                f'Resized {key} from the {side}x{side} to the '
                f'{dst[0]}x{dst[1]} patch grid', logger='current')
        return state_dict

    @staticmethod
    def _init_layer(m: nn.Module):
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, Affine):
            m.reset_parameters()

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """Patch tokens of an ``img_size`` input."""
        H, W = x.shape[-2:]
        if (H, W) != self.patch_embed.img_size:
            h, w = self.patch_embed.img_size
            gh, gw = self.patch_embed.grid_size
            raise ValueError(
                f'ResMLP got a {H}x{W} input but is built for img_size '
                f'{h}x{w}: its cross-patch layers are tied to the {gh}x{gw} '
                f'patch grid. Resize, crop or pad inputs to {h}x{w}, or build '
                f'the backbone with img_size=({H}, {W}) and load the weights '
                "with init_cfg=dict(type='Pretrained', ...), which resizes "
                'linear_tokens to the new grid')
        return self.patch_embed(x)

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """The final Affine after the last block, then ``out_type``."""
        if index == self.num_stages - 1:
            x = self.norm(x)
        return format_tokens(x, self.out_type, hw)
