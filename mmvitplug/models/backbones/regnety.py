# Copyright (c) mmvitplug contributors.
"""RegNetY backbone.

`Radosavovic et al. 2020, "Designing Network Design Spaces"
<https://arxiv.org/abs/2003.13678>`_; the large settings of `Goyal et al.
2021, "Self-supervised Pretraining of Visual Features in the Wild" (SEER)
<https://arxiv.org/abs/2103.01988>`_ and `Goyal et al. 2022 (SEER 10B)
<https://arxiv.org/abs/2202.08360>`_.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import constant_init, normal_init

from mmvitplug.layers import DropPath, SqueezeExcite
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_featmap

#: Block widths are multiples of this (pycls / timm / ClassyVision).
WIDTH_QUANTUM = 8


def regnet_widths(w0: int, wa: float, wm: float, depth: int,
                  group_width: int,
                  bottle_ratio: float = 1.) -> Tuple[List[int], List[int],
                                                     List[int]]:
    """Stage widths, depths and group widths of a RegNet design.

    The quantised linear parametrisation of the paper (Sec. 3.3): block
    ``j`` gets the continuous width ``u_j = w0 + wa * j``, snapped to
    ``w0 * wm ** round(log(u_j / w0) / log(wm))`` and rounded to a multiple
    of 8; consecutive blocks of equal width form a stage. Group widths are
    then made compatible with the bottleneck widths (a group width never
    exceeds its bottleneck width, and the bottleneck width is rounded to a
    multiple of its group width), as pycls / timm / ClassyVision do.

    Args:
        w0 (int): Initial width, a positive multiple of 8.
        wa (float): Width slope, >= 0.
        wm (float): Width multiplier, > 1.
        depth (int): Number of blocks.
        group_width (int): Channels per group of the 3x3 convolutions.
        bottle_ratio (float): Bottleneck width / block width.
            Defaults to 1 (RegNetX / RegNetY).

    Returns:
        tuple[list[int], list[int], list[int]]: Widths, depths and group
        widths of the stages.
    """
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % WIDTH_QUANTUM == 0
            and depth >= 1 and group_width >= 1):
        raise ValueError(
            'RegNet settings need wa >= 0, w0 > 0 a multiple of '
            f'{WIDTH_QUANTUM}, wm > 1, depth >= 1 and group_width >= 1; got '
            f'w0={w0}, wa={wa}, wm={wm}, depth={depth}, '
            f'group_width={group_width}')
    # float32 as the reference implementations, so that rounding ties fall
    # the same way
    cont = torch.arange(depth, dtype=torch.float32, device='cpu') * wa + w0
    exps = torch.round(torch.log(cont / w0) / math.log(wm))
    widths = torch.round(w0 * torch.pow(wm, exps) / WIDTH_QUANTUM) \
        * WIDTH_QUANTUM
    stage_widths, stage_depths = torch.unique_consecutive(
        widths.int(), return_counts=True)
    stage_widths, stage_depths = stage_widths.tolist(), stage_depths.tolist()
    bottlenecks = [int(w * bottle_ratio) for w in stage_widths]
    groups = [min(group_width, b) for b in bottlenecks]
    bottlenecks = [int(round(b / g) * g) for b, g in zip(bottlenecks, groups)]
    stage_widths = [int(b / bottle_ratio) for b in bottlenecks]
    return stage_widths, stage_depths, groups


class ConvNormAct(nn.Module):
    """Convolution (no bias), norm and an optional ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel; padding keeps the size at
            stride 1.
        stride (int): Stride. Defaults to 1.
        groups (int): Convolution groups. Defaults to 1.
        norm_cfg (dict): Config of the norm. Defaults to BN.
        act (bool): Whether a ReLU follows. Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 groups: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class RegNetYBlock(nn.Module):
    """RegNetY residual bottleneck block (pycls ``ResBottleneckBlock`` with
    SE).

    1x1 conv-BN-ReLU to the bottleneck width, 3x3 grouped conv-BN-ReLU
    (carrying the stride), squeeze-and-excitation, 1x1 conv-BN; added to the
    shortcut (identity, or 1x1 conv-BN when the width or the resolution
    changes), then ReLU. The SE hidden width is ``round(se_ratio *
    in_channels)``: a ratio of the *block input* width, as in pycls, timm and
    ClassyVision (not of the gated bottleneck width).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the 3x3 conv and the shortcut.
        group_width (int): Channels per group of the 3x3 conv.
        bottle_ratio (float): Bottleneck width / ``out_channels``.
        se_ratio (float): SE hidden width / ``in_channels``; 0 disables SE
            (a RegNetX block).
        norm_cfg (dict): Config of the norms.
        drop_path (float): Stochastic depth of the residual branch.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 group_width: int, bottle_ratio: float, se_ratio: float,
                 norm_cfg: dict, drop_path: float):
        super().__init__()
        mid = int(round(out_channels * bottle_ratio))
        self.conv1 = ConvNormAct(in_channels, mid, 1, norm_cfg=norm_cfg)
        self.conv2 = ConvNormAct(
            mid,
            mid,
            3,
            stride=stride,
            groups=mid // group_width,
            norm_cfg=norm_cfg)
        if se_ratio:
            se_channels = int(round(in_channels * se_ratio))
            self.se = SqueezeExcite(mid, rd_ratio=se_channels / mid)
            assert self.se.conv_reduce.out_channels == se_channels
        else:
            self.se = nn.Identity()
        self.conv3 = ConvNormAct(mid, out_channels, 1, norm_cfg=norm_cfg,
                                 act=False)
        if in_channels != out_channels or stride != 1:
            self.downsample = ConvNormAct(
                in_channels, out_channels, 1, stride=stride,
                norm_cfg=norm_cfg, act=False)
        else:
            self.downsample = nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H / s, W / s)."""
        out = self.conv3(self.se(self.conv2(self.conv1(x))))
        return self.act(self.drop_path(out) + self.downsample(x))


@MODELS.register_module()
class RegNetY(VisionBackbone):
    """RegNetY: a RegNet of residual bottleneck blocks with SE.

    A stride-2 3x3 conv-BN-ReLU stem (32 channels) and stages of
    :class:`RegNetYBlock` (the first block of each stage has stride 2), at
    strides 4, 8, 16, 32 for the four stages of every zoo arch
    (`RegNet <https://arxiv.org/abs/2003.13678>`_). Stage widths and depths
    come from the design parameters ``w0, wa, wm, depth, group_width`` by
    :func:`regnet_widths`. Any input size works (the maps are
    ``ceil(H / s)``), so dense prediction can take the stage maps.

    The zoo has the ImageNet RegNetY designs (names as timm's
    ``regnety_*``: ``regnety-002`` = 200MF ... ``regnety-320`` = 32GF) and
    the larger designs of SEER (`SEER <https://arxiv.org/abs/2103.01988>`_,
    vissl ``configs/config/pretrain/swav/models`` and the benchmark model
    configs): ``regnety-320`` (SEER RG-32GF, ClassyVision
    ``regnet_y_32gf``), ``regnety-640`` (RG-64GF, vissl
    ``regnet64Gf_3``), ``regnety-1280`` (RG-128GF), ``regnety-2560``
    (RG-256GF, vissl ``regnet256Gf_1``) and ``regnety-10b`` (SEER 10B,
    vissl ``regnet10B``). Parameter counts equal timm's models without their
    classifier (141.3M for RG-32GF, 276.5M / 637.4M / 1272.2M for RG-64 /
    128 / 256GF, 9.32B for 10B).

    Parameter names follow timm inside the blocks (``conv1.conv``,
    ``conv1.bn``, ``downsample.conv``...); timm / pycls / torchvision and
    vissl (SEER) checkpoints load after
    :func:`mmvitplug.converters.convert_regnety` (also applied by
    ``init_cfg=dict(type='Pretrained', ...)``).

    Not implemented (not used by RegNetY or SEER): dilation / output stride
    < 32, RegNetZ / pre-activation variants.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``w0``, ``wa``, ``wm``, ``depth``, ``group_width`` and optionally
            ``se_ratio`` (default 0.25; 0 gives a RegNetX), ``bottle_ratio``
            (default 1.0) and ``stem_width`` (default 32).
            Defaults to 'regnety-320'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'featmap' (B, C_i, H_i, W_i) contiguous maps or
            'avg_featmap' (B, C_i) their spatial means.
            Defaults to 'featmap'.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate (timm). Defaults to 0.
        norm_cfg (dict): Config of every norm (``dict(type='SyncBN')`` as
            SEER). Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep every norm layer in eval mode in training
            (frozen statistics, e.g. for detection). Defaults to False.
        zero_init_last_bn (bool): Zero-initialise the scale of each block's
            last BN, as pycls / timm (the residual branch starts as zero).
            Defaults to True.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages. Frozen parts stay in eval mode.
            Defaults to -1.
        with_cp (bool): Gradient checkpointing of every block in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, timm or vissl checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        # ImageNet RegNetY designs (pycls model zoo = timm regnety_*)
        'regnety-002':
        dict(w0=24, wa=36.44, wm=2.49, group_width=8, depth=13),
        'regnety-004':
        dict(w0=48, wa=27.89, wm=2.09, group_width=8, depth=16),
        'regnety-006':
        dict(w0=48, wa=32.54, wm=2.32, group_width=16, depth=15),
        'regnety-008':
        dict(w0=56, wa=38.84, wm=2.4, group_width=16, depth=14),
        'regnety-016':
        dict(w0=48, wa=20.71, wm=2.65, group_width=24, depth=27),
        'regnety-032':
        dict(w0=80, wa=42.63, wm=2.66, group_width=24, depth=21),
        'regnety-040':
        dict(w0=96, wa=31.41, wm=2.24, group_width=64, depth=22),
        'regnety-064':
        dict(w0=112, wa=33.22, wm=2.27, group_width=72, depth=25),
        'regnety-080':
        dict(w0=192, wa=76.82, wm=2.19, group_width=56, depth=17),
        'regnety-120':
        dict(w0=168, wa=73.36, wm=2.37, group_width=112, depth=19),
        'regnety-160':
        dict(w0=200, wa=106.23, wm=2.48, group_width=112, depth=18),
        'regnety-320':  # also SEER RG-32GF
        dict(w0=232, wa=115.89, wm=2.53, group_width=232, depth=20),
        # SEER designs (vissl configs)
        'regnety-640':
        dict(w0=352, wa=147.48, wm=2.4, group_width=328, depth=20),
        'regnety-1280':
        dict(w0=456, wa=160.83, wm=2.52, group_width=264, depth=27),
        'regnety-2560':
        dict(w0=640, wa=230.83, wm=2.53, group_width=373, depth=27),
        'regnety-10b':
        dict(w0=1744, wa=620.83, wm=2.52, group_width=1010, depth=27),
    }
    arch_keys = ('w0', 'wa', 'wm', 'depth', 'group_width')
    optional_arch_keys = ('se_ratio', 'bottle_ratio', 'stem_width')
    out_types = ('featmap', 'avg_featmap')
    stage_unit = 'stages'
    parts = Parts(stem=('stem', ), stages='stages')

    def __init__(self,
                 arch: Union[str, dict] = 'regnety-320',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 norm_eval: bool = False,
                 zero_init_last_bn: bool = True,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        s = self.arch_settings
        widths, depths, groups = self.stages_of(s)
        bottle_ratio = s.get('bottle_ratio', 1.)
        se_ratio = s.get('se_ratio', 0.25)
        stem_width = s.get('stem_width', 32)
        self.embed_dims = widths
        self.depths = depths
        self.group_widths = groups
        self.patch_size = 4  # stride of the first stage's maps
        self.norm_eval = norm_eval
        self.zero_init_last_bn = zero_init_last_bn

        self.stem = ConvNormAct(
            in_channels, stem_width, 3, stride=2, norm_cfg=norm_cfg)
        rates = iter(drop_path_rates(drop_path_rate, sum(depths), 'linear'))
        self.stages = nn.ModuleList()
        in_dims = stem_width
        for width, depth, group in zip(widths, depths, groups):
            blocks = []
            for j in range(depth):
                blocks.append(
                    RegNetYBlock(
                        in_dims,
                        width,
                        stride=2 if j == 0 else 1,
                        group_width=group,
                        bottle_ratio=bottle_ratio,
                        se_ratio=se_ratio,
                        norm_cfg=norm_cfg,
                        drop_path=next(rates)))
                in_dims = width
            self.stages.append(nn.Sequential(*blocks))

    @staticmethod
    def stages_of(settings: dict) -> Tuple[List[int], List[int], List[int]]:
        """Stage widths, depths and group widths of arch settings."""
        return regnet_widths(settings['w0'], settings['wa'], settings['wm'],
                             settings['depth'], settings['group_width'],
                             settings.get('bottle_ratio', 1.))

    @classmethod
    def num_stages_of(cls, settings: dict) -> int:
        """Number of stages the design generates (4 for every zoo arch)."""
        return len(cls.stages_of(settings)[0])

    # -------------------------------------------------------------- weights
    def init_default_weights(self):
        """The pycls / timm initialisation: convolutions normal with std
        ``sqrt(2 / fan_out)`` (fan out = k * k * out / groups) and zero
        biases, norms one / zero, and (``zero_init_last_bn``) each block's
        last BN scale zero."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * \
                    m.out_channels // m.groups
                normal_init(m, mean=0., std=math.sqrt(2. / fan_out), bias=0.)
            elif isinstance(m, (nn.modules.batchnorm._NormBase,
                                nn.GroupNorm)) and m.weight is not None:
                constant_init(m, 1., bias=0.)
        if self.zero_init_last_bn:
            for m in self.modules():
                if isinstance(m, RegNetYBlock):
                    nn.init.zeros_(m.conv3.bn.weight)

    # ------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """The stem: (B, stem_width, H/2, W/2) maps."""
        return self.stem(x), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """Stage maps as ``out_type`` says."""
        return format_featmap(x, self.out_type)
