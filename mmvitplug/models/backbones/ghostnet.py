# Copyright (c) mmvitplug contributors.
"""GhostNet (C-GhostNet) and GhostNetV2: Ghost bottlenecks, whose Ghost
modules make half of their features with cheap depth-wise convolutions.

`Han et al. 2020, "GhostNet: More Features from Cheap Operations"
<https://arxiv.org/abs/1911.11907>`_ (the CPU-efficient C-GhostNet of
`Han et al. 2022, "GhostNets on Heterogeneous Devices via Cheap
Operations" <https://arxiv.org/abs/2201.03297>`_) and `Tang et al. 2022,
"GhostNetV2: Enhance Cheap Operation with Long-Range Attention"
<https://arxiv.org/abs/2211.12905>`_; official code:
huawei-noah/Efficient-AI-Backbones (``ghostnet_pytorch``,
``ghostnetv2_pytorch``), timm ``ghostnet_*`` / ``ghostnetv2_*``.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import SqueezeExcite
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_featmap

#: The official bottleneck table, one list per stage (timm ``blocks.i``):
#: (depth-wise kernel, expansion channels, output channels, SE ratio,
#: stride) at width 1.0.
GHOSTNET_STAGES = (
    ((3, 16, 16, 0, 1), ),
    ((3, 48, 24, 0, 2), ),
    ((3, 72, 24, 0, 1), ),
    ((5, 72, 40, 0.25, 2), ),
    ((5, 120, 40, 0.25, 1), ),
    ((3, 240, 80, 0, 2), ),
    ((3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1),
     (3, 480, 112, 0.25, 1), (3, 672, 112, 0.25, 1)),
    ((5, 672, 160, 0.25, 2), ),
    ((5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1),
     (5, 960, 160, 0.25, 1)),
)


def make_divisible(value: float, divisor: int = 4) -> int:
    """The official ``_make_divisible``: ``value`` rounded to a multiple of
    ``divisor`` (at least ``divisor``), never more than 10% below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class GhostModule(nn.Module):
    """A Ghost module: a 1x1 convolution to ``ceil(out / 2)`` primary
    channels, a 3x3 depth-wise convolution of them as the cheap other half,
    both concatenated and cut to ``out`` channels (each convolution with
    BN, and ReLU when ``act``).

    With ``dfc`` (GhostNetV2) the output is gated by DFC attention:
    ``sigmoid`` of a 1x1 convolution, a 1x5 and a 5x1 depth-wise
    convolution (each with BN) of the 2x2 average-pooled input, upsampled
    (nearest) to the output's size.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        act (bool): ReLU after both convolutions.
        dfc (bool): The DFC attention gate.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, out_channels: int, act: bool,
                 dfc: bool, norm_cfg: dict):
        super().__init__()
        self.out_channels = out_channels
        primary = math.ceil(out_channels / 2)

        def activation():
            return nn.ReLU(inplace=True) if act else nn.Identity()

        self.primary_conv = nn.Sequential(
            nn.Conv2d(in_channels, primary, 1, bias=False),
            build_norm_layer(norm_cfg, primary)[1], activation())
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(primary, primary, 3, 1, 1, groups=primary, bias=False),
            build_norm_layer(norm_cfg, primary)[1], activation())
        if dfc:
            self.short_conv = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1],
                nn.Conv2d(out_channels, out_channels, (1, 5), 1, (0, 2),
                          groups=out_channels, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1],
                nn.Conv2d(out_channels, out_channels, (5, 1), 1, (2, 0),
                          groups=out_channels, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
        else:
            self.short_conv = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        primary = self.primary_conv(x)
        out = torch.cat([primary, self.cheap_operation(primary)], dim=1)
        out = out[:, :self.out_channels]
        if self.short_conv is None:
            return out
        gate = self.short_conv(F.avg_pool2d(x, kernel_size=2, stride=2))
        gate = F.interpolate(gate.sigmoid(), size=out.shape[-2:],
                             mode='nearest')
        return out * gate


class GhostBottleneck(nn.Module):
    """A Ghost bottleneck: an expanding Ghost module, a strided depth-wise
    convolution + BN (stride 2 only), an optional squeeze-excitation (hard-
    sigmoid gate, hidden width ``make_divisible(mid * se_ratio)``), a
    projecting Ghost module without ReLU, plus the shortcut (identity, or a
    depth-wise convolution + BN and a 1x1 convolution + BN when the shape
    changes). Parameter names are the official / timm ones.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expansion channels.
        out_channels (int): Output channels.
        kernel_size (int): Depth-wise kernel.
        stride (int): 1 or 2.
        se_ratio (float): SE hidden width per expansion channel; 0: none.
        dfc (bool): DFC attention in the expanding Ghost module.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, mid_channels: int,
                 out_channels: int, kernel_size: int, stride: int,
                 se_ratio: float, dfc: bool, norm_cfg: dict):
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.ghost1 = GhostModule(in_channels, mid_channels, True, dfc,
                                  norm_cfg)
        if stride > 1:
            self.conv_dw = nn.Conv2d(mid_channels, mid_channels, kernel_size,
                                     stride, pad, groups=mid_channels,
                                     bias=False)
            self.bn_dw = build_norm_layer(norm_cfg, mid_channels)[1]
        else:
            self.conv_dw = self.bn_dw = None
        if se_ratio:
            hidden = make_divisible(mid_channels * se_ratio)
            self.se = SqueezeExcite(
                mid_channels, rd_ratio=hidden / mid_channels,
                gate_layer=nn.Hardsigmoid)
        else:
            self.se = None
        self.ghost2 = GhostModule(mid_channels, out_channels, False, False,
                                  norm_cfg)
        if in_channels == out_channels and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, kernel_size, stride, pad,
                          groups=in_channels, bias=False),
                build_norm_layer(norm_cfg, in_channels)[1],
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost1(x)
        if self.conv_dw is not None:
            out = self.bn_dw(self.conv_dw(out))
        if self.se is not None:
            out = self.se(out)
        return self.ghost2(out) + self.shortcut(x)


class ConvBnAct(nn.Module):
    """1x1 convolution, BN, ReLU (the last stage; timm names ``conv``,
    ``bn1``)."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act1 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act1(self.bn1(self.conv(x)))


@MODELS.register_module()
class GhostNet(VisionBackbone):
    """GhostNet (C-GhostNet) and GhostNetV2.

    A 3x3 stride-2 convolution stem (16 x width channels, BN, ReLU), then
    ten stages (timm's ``blocks.0`` - ``blocks.9``): nine of Ghost
    bottlenecks (:class:`GhostBottleneck`, the official table
    :data:`GHOSTNET_STAGES` with every width scaled and made divisible by
    4), and a 1x1 convolution + BN + ReLU to the pooled width (960 x
    width). Stages 2, 4, 6 and 9 end the strides 4, 8, 16 and 32: dense
    prediction takes ``out_indices=(2, 4, 6, 9)``. GhostNetV2 (``dfc``)
    gates the expanding Ghost module of every bottleneck but the first two
    with DFC attention. The classification head (global pooling, a 1x1
    convolution to 1280 channels with ReLU, dropout, the classifier) is
    :class:`mmvitplug.GhostNetClsHead`.

    Any input size works: stride-2 convolutions round odd sides up, and
    DFC's average pooling rounds down before its nearest upsampling back
    to the map's size, as officially.

    Parameter names are the official / timm ones (``conv_stem``, ``bn1``,
    ``blocks.{i}.{j}``); timm and official checkpoints load after
    :func:`mmvitplug.converters.convert_ghostnet`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with key
            ``width`` (channel multiplier) and optionally ``dfc`` (default
            False). Defaults to 'ghostnet-1.0x'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned
            (0 - 9); negative values count from the end. Defaults to -1.
        out_type (str): 'featmap' (B, C_i, H_i, W_i) maps or 'avg_featmap'
            (B, C_i) their means. Defaults to 'featmap'.
        norm_cfg (dict): Config of every norm. Defaults to
            ``dict(type='BN')``.
        norm_eval (bool): Keep every norm layer in eval mode in training
            (frozen statistics, e.g. for detection). Defaults to False.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every bottleneck in
            training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, timm or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'ghostnet-0.5x': dict(width=0.5),
        'ghostnet-1.0x': dict(width=1.0),
        'ghostnet-1.3x': dict(width=1.3),
        'ghostnetv2-1.0x': dict(width=1.0, dfc=True),
        'ghostnetv2-1.3x': dict(width=1.3, dfc=True),
        'ghostnetv2-1.6x': dict(width=1.6, dfc=True),
    }
    arch_keys = ('width', )
    optional_arch_keys = ('dfc', )
    out_types = ('featmap', 'avg_featmap')
    stage_unit = 'stages'
    parts = Parts(stem=('conv_stem', 'bn1', 'act1'), stages='blocks')
    patch_size = 2  # stride of the stem's maps

    def __init__(self,
                 arch: Union[str, dict] = 'ghostnet-1.0x',
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
        width = self.arch_settings['width']
        dfc = bool(self.arch_settings.get('dfc', False))
        self.norm_eval = norm_eval
        stem = make_divisible(16 * width)
        self.conv_stem = nn.Conv2d(in_channels, stem, 3, 2, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, stem)[1]
        self.act1 = nn.ReLU(inplace=True)
        self.blocks = nn.ModuleList()
        channels: List[int] = []
        prev, index = stem, 0
        for stage in GHOSTNET_STAGES:
            layers = []
            for kernel, expansion, out, se_ratio, stride in stage:
                out = make_divisible(out * width)
                layers.append(
                    GhostBottleneck(
                        prev,
                        make_divisible(expansion * width),
                        out,
                        kernel,
                        stride,
                        se_ratio,
                        dfc=dfc and index > 1,
                        norm_cfg=norm_cfg))
                prev, index = out, index + 1
            self.blocks.append(nn.Sequential(*layers))
            channels.append(prev)
        pooled = make_divisible(GHOSTNET_STAGES[-1][-1][1] * width)
        self.blocks.append(nn.Sequential(ConvBnAct(prev, pooled, norm_cfg)))
        channels.append(pooled)
        #: Output channels of each stage.
        self.embed_dims = channels

    @classmethod
    def num_stages_of(cls, settings: dict) -> int:
        """Ten stages: nine of bottlenecks and the last 1x1 convolution."""
        return len(GHOSTNET_STAGES) + 1

    def init_default_weights(self):
        """PyTorch's default initialisation (the official and timm models
        keep it), with norms one / zero."""
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor):
        """The stem: (B, 16 x width, H / 2, W / 2) maps."""
        return self.act1(self.bn1(self.conv_stem(x))), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """Stage maps as ``out_type`` says."""
        return format_featmap(x, self.out_type)
