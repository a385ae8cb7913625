# Copyright (c) mmvitplug contributors.
"""Arch-Net's ResNet student: a ResNet made only of quantised 3x3
convolutions, BatchNorm, ReLU, 2x2 max pooling and concatenation.

`Xu et al. 2021, "Arch-Net: Model Distillation for Architecture Agnostic
Model Deployment" <https://arxiv.org/abs/2111.01135>`_; official code:
megvii-research/Arch-Net (``models/students/resnet18.py``,
``operators/dorefa``).
"""
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import ActQuant, QuantConv2d
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_featmap, init_conv_bn


class ConvBNAct(nn.Sequential):
    """Quantised 3x3 convolution (no bias), BN, ReLU, activation quantiser:
    the one unit the student is built of.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Convolution stride.
        w_bits (int, optional): Weight bits (None: full precision).
        a_bits (int, optional): Activation bits (None: full precision).
        act_scale (float): The activation quantiser's input multiplier.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 w_bits: Optional[int], a_bits: Optional[int],
                 act_scale: float, norm_cfg: dict):
        super().__init__(
            OrderedDict(
                conv=QuantConv2d(
                    in_channels,
                    out_channels,
                    3,
                    stride,
                    1,
                    bias=False,
                    w_bits=w_bits),
                bn=build_norm_layer(norm_cfg, out_channels)[1],
                relu=nn.ReLU(inplace=True),
                quant=ActQuant(a_bits, act_scale)))


class SplitUnit(nn.ModuleList):
    """:class:`ConvBNAct` units over equal channel groups of the input,
    their outputs concatenated: a convolution with more input channels than
    the student allows, cut into convolutions that each see one group (the
    official ResNet-50's ``conv1_1 .. conv1_4`` and ``SplitDownsample``).

    Args:
        in_channels (int): Input channels, divisible by ``groups``.
        out_channels (int): Output channels, divisible by ``groups``.
        stride (int): Convolution stride.
        groups (int): Units, each ``in / groups -> out / groups``.
        **unit: :class:`ConvBNAct` arguments (bits, scale, norm).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 groups: int, **unit):
        super().__init__(
            ConvBNAct(in_channels // groups, out_channels // groups, stride,
                      **unit) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [unit(part) for unit, part in zip(self, x.chunk(len(self), 1))],
            dim=1)


def make_unit(in_channels: int, out_channels: int, stride: int,
              max_conv_in: int, **unit) -> nn.Module:
    """One :class:`ConvBNAct`, or a :class:`SplitUnit` of ``ceil(in /
    max_conv_in)`` groups where the input is wider than ``max_conv_in``."""
    groups = math.ceil(in_channels / max_conv_in)
    if groups == 1:
        return ConvBNAct(in_channels, out_channels, stride, **unit)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f'a convolution of {in_channels} -> {out_channels} channels is '
            f'split into {groups} groups (max_conv_in={max_conv_in}), which '
            'do not divide its channels; choose max_conv_in so that they do')
    return SplitUnit(in_channels, out_channels, stride, groups, **unit)


class ConcatBlock(nn.Module):
    """Base of the student's blocks: a chain of units, the identity (or a
    3x3 downsampling unit where the teacher has a 1x1 convolution), and,
    instead of their sum, a merge of ``cat[out, identity]`` by 3x3 units.

    The merge is cut into ``ceil(2 * C / max_conv_in)`` channel groups, ``C``
    the block's output channels: group g is ``merge[g](cat[out_g,
    identity_g])``, so that no convolution has more than ``max_conv_in``
    input channels (the official blocks ``V2`` .. ``V6``). So is every
    unit wider than that (:func:`make_unit`).

    Subclasses build their units, then call :meth:`add_join`, and give
    :meth:`residual`.
    """

    def add_join(self, in_channels: int, out_channels: int, stride: int,
                 max_conv_in: int, **unit):
        """Build ``downsample`` and ``merge`` (after the units, so that
        the modules are in the order of the computation)."""
        self.downsample = make_unit(
            in_channels, out_channels, stride, max_conv_in, **unit) if (
                stride != 1 or in_channels != out_channels) else None
        splits = math.ceil(2 * out_channels / max_conv_in)
        if out_channels % splits:
            raise ValueError(
                f'a block of {out_channels} channels merges in {splits} '
                f'groups (max_conv_in={max_conv_in}), which do not divide '
                'its channels; choose max_conv_in so that they do')
        group = out_channels // splits
        self.merge = nn.ModuleList(
            ConvBNAct(2 * group, group, 1, **unit) for _ in range(splits))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        identity = x if self.downsample is None else self.downsample(x)
        splits = len(self.merge)
        return torch.cat([
            merge(torch.cat(pair, dim=1)) for merge, *pair in zip(
                self.merge, out.chunk(splits, 1), identity.chunk(splits, 1))
        ], dim=1)


class ConcatBasicBlock(ConcatBlock):
    """A ResNet basic block whose residual addition is a concatenation
    followed by a 3x3 convolution (official ``QuantizeBasicBlockV1``; with
    a split merge, ``QuantizeBasicBlockV2``): ``conv1`` (strided), ``conv2``.

    Args:
        in_channels (int): Input channels.
        planes (int): Output channels.
        stride (int): Stride of ``conv1`` (and of ``downsample``).
        max_conv_in (int): Most input channels of a convolution.
        **unit: :class:`ConvBNAct` arguments (bits, scale, norm).
    """
    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int,
                 max_conv_in: int, **unit):
        super().__init__()
        self.conv1 = make_unit(in_channels, planes, stride, max_conv_in,
                               **unit)
        self.conv2 = make_unit(planes, planes, 1, max_conv_in, **unit)
        self.add_join(in_channels, planes, stride, max_conv_in, **unit)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class ConcatBottleneck(ConcatBlock):
    """A ResNet bottleneck of 3x3 units whose residual addition is a
    concatenation followed by 3x3 convolutions (official
    ``QuantizeBottleneckV1`` .. ``V6``): ``conv1`` (``in -> planes``, split
    where ``in > max_conv_in``), ``conv2`` (strided, as torchvision's
    ResNet v1.5), ``conv3`` (``planes -> 4 planes``); the teacher's 1x1
    convolutions are 3x3 here.

    Args:
        in_channels (int): Input channels.
        planes (int): Width of the first two units; the block gives ``4
            planes`` channels.
        stride (int): Stride of ``conv2`` (and of ``downsample``).
        max_conv_in (int): Most input channels of a convolution.
        **unit: :class:`ConvBNAct` arguments (bits, scale, norm).
    """
    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int,
                 max_conv_in: int, **unit):
        super().__init__()
        self.conv1 = make_unit(in_channels, planes, 1, max_conv_in, **unit)
        self.conv2 = make_unit(planes, planes, stride, max_conv_in, **unit)
        self.conv3 = make_unit(planes, planes * self.expansion, 1,
                               max_conv_in, **unit)
        self.add_join(in_channels, planes * self.expansion, stride,
                      max_conv_in, **unit)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))


#: The student's blocks by the arch's ``block``.
BLOCKS = dict(basic=ConcatBasicBlock, bottleneck=ConcatBottleneck)


@MODELS.register_module()
class ArchNetResNet(VisionBackbone):
    """Arch-Net's ResNet student: the teacher ResNet's stages with only
    simple quantised operators.

    What the official students change in a torchvision ResNet (basic
    blocks: ``resnet18.py``, ``resnet34.py``; bottlenecks: ``resnet50.py``):

    - stem: three 3x3 units (strides 1, 1, 2) and a 2x2 max pool instead of
      the 7x7 stride-2 convolution and the 3x3 max pool (same stride 4);
    - every convolution 3x3 (the 1x1 ones too: the downsampling, a
      bottleneck's first and last), quantised, followed by BN, ReLU and an
      activation quantiser (:class:`ConvBNAct`);
    - no addition: each block concatenates its last unit's output with its
      identity and merges them with 3x3 units (:class:`ConcatBasicBlock`,
      :class:`ConcatBottleneck`), split into channel groups where the
      concatenation would exceed ``max_conv_in`` channels (ResNet-18's last
      stage: two 512 -> 256 merges; ResNet-50's stages: 1, 2, 4 and 8);
    - no convolution sees more than ``max_conv_in`` channels: a wider one
      is cut into convolutions over equal input groups, their outputs
      concatenated (:class:`SplitUnit`: ResNet-50's first unit of a block
      of 1024 or 2048 input channels, its last stage's downsampling).

    ResNet-50 differs from the official ``resnet50.py`` in one place: there
    the blocks of the second stage (``QuantizeBottleneckV2``) discard their
    merge (its line 417 assigns the concatenation of the merged groups to
    ``out2`` instead of ``out``), so that these blocks have no identity
    path and their downsampling and merge convolutions never train; here
    they merge as every other block does.

    The classifier is mmpretrain's ``GlobalAveragePooling`` and
    :class:`mmvitplug.QuantLinearClsHead` (8-bit weights, logits clipped to
    ±16). Trained by :class:`mmvitplug.ArchNetClassifier`, which
    initialises it from its teacher ResNet
    (:func:`mmvitplug.converters.archnet_init_from_resnet`); official
    Arch-Net student checkpoints load through the registered converter
    :func:`mmvitplug.converters.convert_archnet_resnet`. The images
    themselves are not quantised, only every weight and activation.

    Args:
        arch (str | dict): 'resnet18', 'resnet34', 'resnet50' or a dict
            with ``depths``, ``widths`` (per stage, the width of its first
            units; the first also the stem's width) and optionally
            ``block``: 'basic' (default) or 'bottleneck' (stages of 4 x
            their width). Defaults to 'resnet18'.
        in_channels (int): Image channels. Defaults to 3.
        w_bits (int, optional): Weight bits of every convolution; None:
            full precision. Defaults to 2.
        a_bits (int, optional): Bits of every activation; None: full
            precision (the quantisers are identities). Defaults to 4.
        act_scale (float): Input multiplier of the activation quantisers
            (they clip at ``1 / act_scale``). Defaults to 0.1.
        max_conv_in (int): Most input channels of a convolution: a block
            of ``C`` output channels merges in ``ceil(2 * C / max_conv_in)``
            groups, a wider unit is split (:class:`SplitUnit`). Defaults to
            512 (the official bound).
        out_indices (int | Sequence[int]): Stages whose output is returned.
            Defaults to -1.
        out_type (str): 'featmap' (B, C, H, W) or 'avg_featmap' (B, C).
            Defaults to 'featmap'.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep the norms in eval mode in training.
            Defaults to False.
        frozen_stages (int): -1 freezes nothing; 0 the stem; k > 0 also the
            first k stages. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every block in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config; ``Pretrained``
            loads mmvitplug or official Arch-Net checkpoints. Defaults to
            None.
    """
    arch_zoo: Dict[str, dict] = {
        'resnet18': dict(depths=[2, 2, 2, 2], widths=[64, 128, 256, 512]),
        'resnet34': dict(depths=[3, 4, 6, 3], widths=[64, 128, 256, 512]),
        'resnet50': dict(
            depths=[3, 4, 6, 3], widths=[64, 128, 256, 512],
            block='bottleneck'),
    }
    arch_keys = ('depths', 'widths')
    optional_arch_keys = ('block', )
    out_types = ('featmap', 'avg_featmap')
    num_stages_key = 'depths'
    stage_unit = 'stages'
    parts = Parts(stem=('stem', ), stages='stages')
    patch_size = 4  # stride of the first stage's maps

    def __init__(self,
                 arch: Union[str, dict] = 'resnet18',
                 in_channels: int = 3,
                 w_bits: Optional[int] = 2,
                 a_bits: Optional[int] = 4,
                 act_scale: float = 0.1,
                 max_conv_in: int = 512,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 norm_cfg: dict = dict(type='BN'),
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        per_stage = self.stage_settings('widths')
        depths, widths = per_stage['depths'], per_stage['widths']
        block = self.arch_settings.get('block', 'basic')
        if block not in BLOCKS:
            raise ValueError(f'arch block must be one of {sorted(BLOCKS)}, '
                             f'got {block!r}')
        if isinstance(max_conv_in, bool) or not isinstance(
                max_conv_in, int) or max_conv_in < 2:
            raise ValueError(
                f'max_conv_in must be an int >= 2, got {max_conv_in!r}')
        block = BLOCKS[block]
        self.depths, self.max_conv_in = depths, max_conv_in
        #: Output channels of each stage.
        self.embed_dims = [w * block.expansion for w in widths]
        self.norm_eval = norm_eval
        unit = dict(
            w_bits=w_bits,
            a_bits=a_bits,
            act_scale=act_scale,
            norm_cfg=norm_cfg)
        self.stem = nn.Sequential(
            ConvBNAct(in_channels, widths[0], 1, **unit),
            ConvBNAct(widths[0], widths[0], 1, **unit),
            ConvBNAct(widths[0], widths[0], 2, **unit), nn.MaxPool2d(2, 2))
        self.stages = nn.ModuleList()
        prev = widths[0]
        for i, (depth, width) in enumerate(zip(depths, widths)):
            try:
                self.stages.append(
                    nn.Sequential(*[
                        block(prev if j == 0 else width * block.expansion,
                              width, 2 if i > 0 and j == 0 else 1,
                              max_conv_in, **unit) for j in range(depth)
                    ]))
            except ValueError as err:
                raise ValueError(f'stage {i}: {err}') from None
            prev = width * block.expansion

    @property
    def splits(self) -> List[int]:
        """Merge groups of each stage's blocks."""
        return [len(stage[0].merge) for stage in self.stages]

    def init_default_weights(self):
        """The official initialisation (:func:`init_conv_bn`):
        convolutions Kaiming-normal (fan out, ReLU), norms one / zero."""
        self.apply(init_conv_bn)

    def embed(self, x: torch.Tensor):
        """The stem: (B, widths[0], H / 4, W / 4) maps."""
        return self.stem(x), None

    def format_output(self, x: torch.Tensor, index: int, context):
        """Stage maps as ``out_type`` says."""
        return format_featmap(x, self.out_type)
