# Copyright (c) mmvitplug contributors.
"""BiMLP: binary vision MLPs built from multi-branch binary blocks.

`Xu, Chen, Wang 2022, "BiMLP: Compact Binary Architectures for Vision
Multi-Layer Perceptrons" <https://arxiv.org/abs/2212.14158>`_ (NeurIPS
2022); official code: the MindSpore evaluation code
``mindspore-ai/models:research/cv/BiMLP/src/bimlp.py`` (a binarised
Wave-MLP, ``WaveNet``) and ``quan_conv.py`` (no training code, no PyTorch
code). This is a PyTorch re-implementation of that code, checked against
hand-computed values (the MindSpore code cannot run here).

Every "FC" of the Wave-MLP blocks is a binary 1x1 convolution
(:class:`mmvitplug.layers.BinaryConv2d`) inside a *binary unit*
(:class:`BinaryUnit`): a learnable shift, the binary convolution, BN, a
shortcut and RPReLU. Widths that change inside a unit are bridged by the
*universal shortcut* (:func:`mmvitplug.layers.universal_shortcut`: tiling
or group averaging). The first layer (the 7x7 stride-4 patch embedding),
the down-sampling 1x1 convolutions and the classifier stay full precision,
as officially.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import (BinaryConv2d, DropPath, LearnableBias, RPReLU,
                              universal_shortcut)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_featmap

#: Norms an arch may name for the blocks, the stem, the down-sampling and
#: the final norm (the official ``norm_layer``; the binary units' norms are
#: always BN, as officially).
BLOCK_NORMS = {
    'BN': dict(type='BN'),
    'GN': dict(type='GN', num_groups=1),  # the official BiMLP-M's MyNorm
}


class BinaryUnit(nn.Module):
    """``act(norm(conv(move(x))) + shortcut)``: a learnable shift, a binary
    convolution (no bias), BN, the shortcut and RPReLU.

    The shortcut is, unless given, the universal shortcut of the shifted
    input (the official ``fc_h`` / ``fc_c`` / ``proj`` / ``tfc_h`` / ``sfc_h``
    units).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Kernel. Defaults to 1.
        groups (int): Convolution groups. Defaults to 1.
        binary (bool): Binary convolution (False: full precision).
            Defaults to True.
        act (bool): RPReLU after the sum (False: the caller applies its
            own). Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size=1,
                 groups: int = 1,
                 binary: bool = True,
                 act: bool = True):
        super().__init__()
        kernel = (kernel_size, kernel_size) if isinstance(kernel_size,
                                                          int) else \
            tuple(kernel_size)
        self.out_channels = out_channels
        self.move = LearnableBias(in_channels)
        self.conv = BinaryConv2d(
            in_channels,
            out_channels,
            kernel,
            padding=(kernel[0] // 2, kernel[1] // 2),
            groups=groups,
            bias=False,
            binary=binary)
        self.norm = nn.BatchNorm2d(out_channels)
        self.act = RPReLU(out_channels) if act else nn.Identity()

    def forward(self,
                x: torch.Tensor,
                shortcut: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.move(x)
        if shortcut is None:
            shortcut = universal_shortcut(x, self.out_channels)
        return self.act(self.norm(self.conv(x)) + shortcut)


class BiMLPChannelMlp(nn.Module):
    """The official binary ``Mlp``: two binary 1x1 units ``in -> hidden ->
    out`` whose shortcuts bridge the widths with
    :func:`~mmvitplug.layers.universal_shortcut` of the *unshifted* input:
    the first through its own BN and RPReLU, the second as it is.

    Args:
        in_channels (int): Input channels.
        hidden_channels (int): Hidden channels (a multiple or a divisor of
            both others).
        out_channels (int): Output channels.
        binary (bool): Binary convolutions. Defaults to True.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, binary: bool = True):
        super().__init__()
        for a, b in ((in_channels, hidden_channels),
                     (hidden_channels, out_channels)):
            if max(a, b) % min(a, b):
                raise ValueError(
                    f'BiMLP Mlp widths {in_channels} -> {hidden_channels} '
                    f'-> {out_channels}: each width must be a multiple or '
                    'a divisor of the next (universal shortcut)')
        self.fc1 = BinaryUnit(in_channels, hidden_channels, binary=binary)
        self.shortcut_norm = nn.BatchNorm2d(hidden_channels)
        self.shortcut_act = RPReLU(hidden_channels)
        self.fc2 = BinaryUnit(hidden_channels, out_channels, binary=binary)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.fc1.out_channels
        short = self.shortcut_act(
            self.shortcut_norm(universal_shortcut(x, hidden)))
        x = self.fc1(x, short)
        return self.fc2(x, universal_shortcut(x, self.fc2.out_channels))


class BiMLPTokenMixer(nn.Module):
    """The official binary ``PATM`` (phase-aware token mixing, Wave-MLP)
    with three branches reweighted per channel.

    ``theta_h``, ``theta_w`` (phases) and ``fc_h``, ``fc_w`` (amplitudes)
    are binary 1x1 units of the input; the waves ``[x cos(theta), x
    sin(theta)]`` (2C channels) are mixed along the width (1x7) / height
    (7x1) by binary grouped units (C groups, shortcut: the mean of channel
    pairs), ``fc_c`` is a binary 1x1 unit; the three branches ``h``, ``w``,
    ``c`` are weighted by a softmax over branches of a binary
    :class:`BiMLPChannelMlp` (``C -> C / 4 -> 3C``) of the pooled ``h + w +
    c + x``, summed with ``x``, and projected by a binary 1x1 unit.

    Args:
        dim (int): Channels (a multiple of 4).
        binary (bool): Binary convolutions. Defaults to True.
    """

    def __init__(self, dim: int, binary: bool = True):
        super().__init__()
        if dim % 4:
            raise ValueError(f'BiMLP embed_dims must be multiples of 4 (the '
                             f'reweighting Mlp has dim / 4 channels), got '
                             f'{dim}')
        self.theta_h = BinaryUnit(dim, dim, binary=binary)
        self.theta_w = BinaryUnit(dim, dim, binary=binary)
        self.fc_h = BinaryUnit(dim, dim, binary=binary)
        self.fc_w = BinaryUnit(dim, dim, binary=binary)
        self.fc_c = BinaryUnit(dim, dim, binary=binary)
        self.tfc_h = BinaryUnit(
            2 * dim, dim, (1, 7), groups=dim, binary=binary, act=False)
        self.tfc_w = BinaryUnit(
            2 * dim, dim, (7, 1), groups=dim, binary=binary, act=False)
        self.act_h = RPReLU(dim)
        self.act_w = RPReLU(dim)
        self.reweight = BiMLPChannelMlp(dim, dim // 4, dim * 3, binary)
        self.proj = BinaryUnit(dim, dim, binary=binary)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        theta_h, theta_w = self.theta_h(x), self.theta_w(x)
        x_h, x_w = self.fc_h(x), self.fc_w(x)
        x_h = torch.cat([x_h * torch.cos(theta_h), x_h * torch.sin(theta_h)],
                        dim=1)
        x_w = torch.cat([x_w * torch.cos(theta_w), x_w * torch.sin(theta_w)],
                        dim=1)
        h = self.act_h(self.tfc_h(x_h))
        w = self.act_w(self.tfc_w(x_w))
        c_ = self.fc_c(x)
        a = F.adaptive_avg_pool2d(h + w + c_ + x, 1)
        # (N, 3C) -> (3, N, C): channel 3j + k weights branch k of channel j
        a = self.reweight(a).reshape(n, c, 3).permute(2, 0, 1).softmax(dim=0)
        a = a[..., None, None]
        x = h * a[0] + w * a[1] + c_ * a[2] + x
        return self.proj(x)


class BiMLPBlock(nn.Module):
    """The multi-branch binary block (the official ``WaveBlock``).

    ``x = x + drop_path(mixer(norm1(x)))``; then from ``m = norm2(x)`` three
    branches: the binary channel MLP (``C -> ratio C -> C``), and binary
    depth-wise 1x7 and 7x1 units; merged with learnable weights ``w0 b +
    w1 c + (1 - w0 - w1) mlp`` (zeros at first: the MLP alone) and added:
    ``x = x + drop_path(merged)``.

    Args:
        dim (int): Channels.
        mlp_ratio (int): Hidden width of the MLP per channel (the hidden
            width must be a multiple of ``dim``: a positive int).
        norm_cfg (dict): Config of ``norm1`` / ``norm2``.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        binary (bool): Binary convolutions. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 mlp_ratio: int,
                 norm_cfg: dict,
                 drop_path: float = 0.,
                 binary: bool = True):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = BiMLPTokenMixer(dim, binary)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = BiMLPChannelMlp(dim, dim * mlp_ratio, dim, binary)
        self.sfc_h = BinaryUnit(dim, dim, (1, 7), groups=dim, binary=binary)
        self.sfc_w = BinaryUnit(dim, dim, (7, 1), groups=dim, binary=binary)
        self.weight = nn.Parameter(torch.zeros(2))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        mid = self.norm2(x)
        a, b, c = self.mlp(mid), self.sfc_h(mid), self.sfc_w(mid)
        w0, w1 = self.weight[0], self.weight[1]
        return x + self.drop_path(w0 * b + w1 * c + (1 - w0 - w1) * a)


def max_pool_same(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Stride-2 max pooling with TensorFlow / MindSpore ``'same'`` padding:
    ``ceil(H / 2)`` outputs, ``-inf`` padding split with the extra pixel at
    the end."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad: last dimension first
        total = max((math.ceil(size / 2) - 1) * 2 + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    x = F.pad(x, pads, value=float('-inf'))
    return F.max_pool2d(x, kernel, 2)


class BiMLPDownsample(nn.Module):
    """The official down-sampling: a full-precision 1x1 convolution (with
    bias), BN and RPReLU, then the mean of stride-2 max poolings of 2x2,
    3x3, 5x5 and 7x7 windows (``'same'`` padding: ``ceil(H / 2)``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        norm_cfg (dict): Config of the norm (the blocks' norm, officially).
            Defaults to ``dict(type='BN')``.
    """
    kernels = (2, 3, 5, 7)

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 1)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = RPReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm(self.proj(x)))
        return sum(max_pool_same(x, k) for k in self.kernels) / len(
            self.kernels)


class BiMLPStem(nn.Module):
    """The full-precision first layer: a 7x7 stride-4 convolution (padding
    2, with bias), BN and RPReLU.

    Args:
        in_channels (int): Image channels.
        out_channels (int): Output channels.
        norm_cfg (dict): Config of the norm (the blocks' norm, officially).
            Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 7, 4, 2)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = RPReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.proj(x)))


@MODELS.register_module()
class BiMLP(VisionBackbone):
    """BiMLP, a binary vision MLP (and its full-precision twin).

    A full-precision stem (:class:`BiMLPStem`, stride 4), four stages of
    multi-branch binary blocks (:class:`BiMLPBlock`), stages 1-3 opening
    with the full-precision down-sampling (:class:`BiMLPDownsample`,
    stride 2): maps of strides 4, 8, 16 and 32, one output per stage
    (``out_indices=(0, 1, 2, 3)`` for dense prediction), and the final norm
    on the last stage. The classifier (global pooling and a full-precision
    linear layer) is mmpretrain's ``LinearClsHead`` on ``avg_featmap``.

    ``binary=False`` builds the full-precision twin: the same modules and
    parameters, every binary convolution a plain one of real inputs.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``depths``, ``embed_dims``, ``mlp_ratios`` (one per stage) and
            optionally ``block_norm`` ('BN' (default) or 'GN': GroupNorm
            with one group, the official BiMLP-M's; the norm of the blocks,
            the stem, the down-sampling and the end). Defaults to
            'bimlp-s'.
        binary (bool): Binary blocks; False: the full-precision twin.
            Defaults to True.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned
            (0 - 3); negative values count from the end. Defaults to -1.
        out_type (str): 'featmap' (B, C_i, H_i, W_i) maps or 'avg_featmap'
            (B, C_i) their means. Defaults to 'featmap'.
        drop_path_rate (float): Stochastic depth, rising linearly over the
            blocks to this rate (officially). Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 the stem; k > 0 also the
            first k stages. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every layer in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        # the official BiMLP_S / BiMLP_M (71.56% top-1, BiMLP-M)
        'bimlp-s':
        dict(depths=(2, 2, 4, 2), embed_dims=(64, 128, 320, 512),
             mlp_ratios=(4, 4, 4, 4)),
        'bimlp-m':
        dict(depths=(2, 3, 10, 3), embed_dims=(64, 128, 320, 512),
             mlp_ratios=(4, 4, 4, 4), block_norm='GN'),
    }
    arch_keys = ('depths', 'embed_dims', 'mlp_ratios')
    optional_arch_keys = ('block_norm', )
    out_types = ('featmap', 'avg_featmap')
    stage_unit = 'stages'
    num_stages_key = 'depths'
    parts = Parts(stem=('patch_embed', ), stages='stages', top=('norm', ))
    patch_size = 4  # stride of the first stage's maps

    def __init__(self,
                 arch: Union[str, dict] = 'bimlp-s',
                 binary: bool = True,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        if not isinstance(binary, bool):
            raise TypeError(f'binary must be a bool, got {binary!r}')
        settings = self.stage_settings('embed_dims', 'mlp_ratios')
        depths, dims = settings['depths'], settings['embed_dims']
        block_norm = self.arch_settings.get('block_norm', 'BN')
        if block_norm not in BLOCK_NORMS:
            raise ValueError(f'Unknown block_norm {block_norm!r}; choose '
                             f'from {sorted(BLOCK_NORMS)}')
        for ratio in settings['mlp_ratios']:
            if isinstance(ratio, bool) or not isinstance(ratio, int) or \
                    ratio < 1:
                raise ValueError('mlp_ratios must be positive ints (the '
                                 'universal shortcut tiles the channels), '
                                 f"got {settings['mlp_ratios']}")
        norm_cfg = BLOCK_NORMS[block_norm]
        self.binary = binary
        self.embed_dims: List[int] = list(dims)
        self.patch_embed = BiMLPStem(in_channels, dims[0], norm_cfg)
        rates = drop_path_rates(drop_path_rate, sum(depths), 'linear')
        self.stages = nn.ModuleList()
        index = 0
        for i, (depth, dim, ratio) in enumerate(
                zip(depths, dims, settings['mlp_ratios'])):
            layers = [BiMLPDownsample(dims[i - 1], dim, norm_cfg)
                      ] if i else []
            for _ in range(depth):
                layers.append(
                    BiMLPBlock(dim, ratio, norm_cfg, rates[index], binary))
                index += 1
            self.stages.append(nn.Sequential(*layers))
        self.norm = build_norm_layer(norm_cfg, dims[-1])[1]

    def embed(self, x: torch.Tensor):
        """The full-precision stem: (B, C_0, H / 4, W / 4) maps."""
        return self.patch_embed(x), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """Stage maps (the last after the final norm) as ``out_type``
        says."""
        if index == self.num_stages - 1:
            x = self.norm(x)
        return format_featmap(x, self.out_type)
