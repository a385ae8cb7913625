# Copyright (c) mmvitplug contributors.
"""G-GhostNet: RegNetX whose deep stages compute part of their output
features with cheap operations on the stage's intermediate maps.

`Han et al. 2022, "GhostNets on Heterogeneous Devices via Cheap
Operations" <https://arxiv.org/abs/2201.03297>`_ (the GPU-efficient
G-GhostNet); official code: huawei-noah/Efficient-AI-Backbones
(``g_ghost_pytorch/g_ghost_regnet.py``).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_featmap, init_conv_bn


def _conv_bn(norm_cfg: dict, in_channels: int, out_channels: int,
             stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        build_norm_layer(norm_cfg, out_channels)[1])


class Bottleneck(nn.Module):
    """The RegNetX block: 1x1 convolution, 3x3 group convolution (carrying
    the stride; ``width // min(width, group_width)`` groups), 1x1
    convolution, each with BN and all but the last with ReLU, plus the
    shortcut (``downsample``: a strided 1x1 convolution + BN when the shape
    changes), then ReLU. Parameter names are the official (torchvision-
    style) ones.

    Args:
        in_channels (int): Input channels.
        channels (int): Output (and inner) channels.
        stride (int): Stride of the 3x3 convolution.
        group_width (int): Channels per group of the 3x3 convolution.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, channels: int, stride: int,
                 group_width: int, norm_cfg: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, channels)[1]
        self.conv2 = nn.Conv2d(
            channels,
            channels,
            3,
            stride,
            1,
            groups=channels // min(channels, group_width),
            bias=False)
        self.bn2 = build_norm_layer(norm_cfg, channels)[1]
        self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _conv_bn(norm_cfg, in_channels, channels, stride) \
            if stride != 1 or in_channels != channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class GGhostStage(nn.Module):
    """A G-Ghost stage of ``depth`` (>= 3) RegNetX blocks.

    ``base`` (the strided block) gives ``x0``; its first ``raw_channels``
    channels go through the ``depth - 2`` inner ``layers`` (group width
    ``int(group_width * 0.75)``), the other ``cheap_channels`` are made
    cheaply: ``relu(cheap(x0[:, raw:]) + merge(cat(x0, e_1, ..., e_n)))``
    with ``cheap`` a 1x1 convolution + BN and ``merge`` global average
    pooling, 1x1 convolution + BN + ReLU, 1x1 convolution + BN of every
    intermediate map (a channel-wise bias, broadcast over space).
    ``end`` (a block) then runs on ``cat(e_n, cheap features)``. With
    ``raw_channels = int(channels * 0.5 / gw') * gw'`` (``gw'`` the inner
    group width), as officially.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        depth (int): Blocks of the stage (base, inner layers, end).
        group_width (int): Group width of ``base`` and ``end``.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, channels: int, depth: int,
                 group_width: int, norm_cfg: dict):
        super().__init__()
        if depth < 3:
            raise ValueError(f'a G-Ghost stage needs at least 3 blocks '
                             f'(base, inner, end), got {depth}')
        inner_width = int(group_width * 0.75)
        raw = int(channels * 0.5 / inner_width) * inner_width
        self.raw_channels = raw
        self.cheap_channels = cheap = channels - raw
        self.base = Bottleneck(in_channels, channels, 2, group_width,
                               norm_cfg)
        self.layers = nn.Sequential(*[
            Bottleneck(raw, raw, 1, inner_width, norm_cfg)
            for _ in range(depth - 2)
        ])
        self.merge = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels + raw * (depth - 2), cheap, 1, bias=False),
            build_norm_layer(norm_cfg, cheap)[1], nn.ReLU(inplace=True),
            nn.Conv2d(cheap, cheap, 1, bias=False),
            build_norm_layer(norm_cfg, cheap)[1])
        self.cheap = _conv_bn(norm_cfg, cheap, cheap)
        self.cheap_relu = nn.ReLU(inplace=True)
        self.end = Bottleneck(channels, channels, 1, group_width, norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.base(x)
        maps = [x0]
        e = x0[:, :self.raw_channels]
        for layer in self.layers:
            e = layer(e)
            maps.append(e)
        c = self.cheap(x0[:, self.raw_channels:]) + self.merge(
            torch.cat(maps, dim=1))
        return self.end(torch.cat([e, self.cheap_relu(c)], dim=1))


@MODELS.register_module()
class GGhostRegNet(VisionBackbone):
    """G-GhostNet on RegNetX (G-Ghost RegNet).

    A 3x3 stride-2 convolution stem (32 channels, BN, ReLU), then four
    stages at strides 4, 8, 16 and 32: the first a plain RegNetX stage
    (:class:`Bottleneck` s), the third always a G-Ghost stage
    (:class:`GGhostStage`), the second and fourth G-Ghost stages when they
    have more than two blocks and plain ones otherwise, as officially. A
    plain stage is a trunk layer per block, a G-Ghost stage one trunk layer
    (its blocks do not run in a chain). The classifier (global average
    pooling, dropout 0.2, linear) is mmpretrain's ``GlobalAveragePooling``
    neck and :class:`mmvitplug.DropoutLinearClsHead`.

    Any input size works: stride-2 convolutions round odd sides up. (In
    training, the merge branch's BNs see one value per image and channel:
    batches need at least 2 images.)

    Parameter names are the official ones inside the stages
    (``stages.{i}`` for the official ``layer{i + 1}``); official checkpoints
    load after :func:`mmvitplug.converters.convert_g_ghost_regnet`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``depths`` and ``widths`` (per stage) and ``group_width``.
            Defaults to 'g-ghost-regnetx-032'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'featmap' (B, C_i, H_i, W_i) maps or 'avg_featmap'
            (B, C_i) their means. Defaults to 'featmap'.
        norm_cfg (dict): Config of every norm. Defaults to
            ``dict(type='BN')``.
        norm_eval (bool): Keep every norm layer in eval mode in training
            (frozen statistics, e.g. for detection). Defaults to False.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every trunk layer (block
            or G-Ghost stage) in training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        f'g-ghost-regnetx-{name}':
        dict(depths=depths, widths=widths, group_width=group_width)
        for name, depths, widths, group_width in (
            ('002', [1, 1, 4, 7], [24, 56, 152, 368], 8),
            ('004', [1, 2, 7, 12], [32, 64, 160, 384], 16),
            ('006', [1, 3, 5, 7], [48, 96, 240, 528], 24),
            ('008', [1, 3, 7, 5], [64, 128, 288, 672], 16),
            ('016', [2, 4, 10, 2], [72, 168, 408, 912], 24),
            ('032', [2, 6, 15, 2], [96, 192, 432, 1008], 48),
            ('040', [2, 5, 14, 2], [80, 240, 560, 1360], 40),
            ('064', [2, 4, 10, 1], [168, 392, 784, 1624], 56),
            ('080', [2, 5, 15, 1], [80, 240, 720, 1920], 120),
            ('120', [2, 5, 11, 1], [224, 448, 896, 2240], 112),
            ('160', [2, 6, 13, 1], [256, 512, 896, 2048], 128),
            ('320', [2, 7, 13, 1], [336, 672, 1344, 2520], 168),
        )
    }
    arch_keys = ('depths', 'widths', 'group_width')
    out_types = ('featmap', 'avg_featmap')
    num_stages_key = 'depths'
    stage_unit = 'stages'
    parts = Parts(stem=('conv1', 'bn1', 'relu'), stages='stages')
    patch_size = 4  # stride of the first stage's maps

    def __init__(self,
                 arch: Union[str, dict] = 'g-ghost-regnetx-032',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 norm_cfg: dict = dict(type='BN'),
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        per_stage = self.stage_settings('widths', num_stages=4)
        depths, widths = per_stage['depths'], per_stage['widths']
        group_width = self.arch_settings['group_width']
        if depths[2] < 3:
            raise ValueError(
                'G-Ghost RegNet arch: the third stage is always a G-Ghost '
                f'stage and needs at least 3 blocks, got depths {depths}')
        self.embed_dims = widths
        self.depths = depths
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(in_channels, 32, 3, 2, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 32)[1]
        self.relu = nn.ReLU(inplace=True)
        self.stages = nn.ModuleList()
        #: Whether each stage is a G-Ghost stage.
        self.ghost_stages: List[bool] = []
        prev = 32
        for i, (depth, width) in enumerate(zip(depths, widths)):
            ghost = i == 2 or (i in (1, 3) and depth > 2)
            if ghost:
                stage = GGhostStage(prev, width, depth, group_width,
                                    norm_cfg)
            else:
                stage = nn.Sequential(*[
                    Bottleneck(prev if j == 0 else width, width,
                               2 if j == 0 else 1, group_width, norm_cfg)
                    for j in range(depth)
                ])
            self.stages.append(stage)
            self.ghost_stages.append(ghost)
            prev = width

    def init_default_weights(self):
        """The official initialisation (:func:`init_conv_bn`):
        convolutions Kaiming-normal (fan out, ReLU), norms one / zero."""
        self.apply(init_conv_bn)

    def embed(self, x: torch.Tensor):
        """The stem: (B, 32, H / 2, W / 2) maps."""
        return self.relu(self.bn1(self.conv1(x))), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """Stage maps as ``out_type`` says."""
        return format_featmap(x, self.out_type)
