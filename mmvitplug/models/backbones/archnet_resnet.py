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
from typing import Dict, Optional, Sequence, Union

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


class ConcatBasicBlock(nn.Module):
    """A ResNet basic block whose residual addition is a concatenation
    followed by a 3x3 convolution (official ``QuantizeBasicBlockV1``; with
    ``splits > 1``, ``QuantizeBasicBlockV2``).

    ``out1 = conv1(x)``, ``out2 = conv2(out1)``, ``identity = x`` or
    ``downsample(x)`` (a 3x3 unit where the teacher has a 1x1 convolution);
    the output is ``merge(cat[out2, identity])``. With ``splits`` s the
    channels are cut into s groups and group g is ``merge[g](cat[out2_g,
    identity_g])``, so that no convolution has more than ``2 * planes / s``
    input channels.

    Args:
        in_channels (int): Input channels.
        planes (int): Output channels.
        stride (int): Stride of ``conv1`` (and of ``downsample``).
        splits (int): Channel groups of the merge; divides ``planes``.
        **unit: :class:`ConvBNAct` arguments (bits, scale, norm).
    """

    def __init__(self, in_channels: int, planes: int, stride: int,
                 splits: int, **unit):
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, planes, stride, **unit)
        self.conv2 = ConvBNAct(planes, planes, 1, **unit)
        self.downsample = ConvBNAct(
            in_channels, planes, stride, **unit) if (
                stride != 1 or in_channels != planes) else None
        group = planes // splits
        self.merge = nn.ModuleList(
            ConvBNAct(2 * group, group, 1, **unit) for _ in range(splits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        identity = x if self.downsample is None else self.downsample(x)
        splits = len(self.merge)
        return torch.cat([
            merge(torch.cat(pair, dim=1)) for merge, *pair in zip(
                self.merge, out.chunk(splits, 1), identity.chunk(splits, 1))
        ], dim=1)


@MODELS.register_module()
class ArchNetResNet(VisionBackbone):
    """Arch-Net's ResNet student: the teacher ResNet's stages with only
    simple quantised operators.

    What the official student changes in a torchvision ResNet (basic
    blocks):

    - stem: three 3x3 units (strides 1, 1, 2) and a 2x2 max pool instead of
      the 7x7 stride-2 convolution and the 3x3 max pool (same stride 4);
    - every convolution 3x3 (the downsampling 1x1 too), quantised, followed
      by BN, ReLU and an activation quantiser (:class:`ConvBNAct`);
    - no addition: each block concatenates its second unit's output with
      its identity and merges them with a third 3x3 unit
      (:class:`ConcatBasicBlock`), split into channel groups where the
      concatenation would exceed ``max_conv_in`` channels (ResNet-18's last
      stage: two 512 -> 256 merges).

    The classifier is mmpretrain's ``GlobalAveragePooling`` and
    :class:`mmvitplug.QuantLinearClsHead` (8-bit weights, logits clipped to
    ±16). Trained by :class:`mmvitplug.ArchNetClassifier`, which
    initialises it from its teacher ResNet
    (:func:`mmvitplug.converters.archnet_init_from_resnet`); official
    Arch-Net student checkpoints load through the registered converter
    :func:`mmvitplug.converters.convert_archnet_resnet`. The images
    themselves are not quantised, only every weight and activation.

    Args:
        arch (str | dict): 'resnet18', 'resnet34' or a dict with ``depths``
            and ``widths`` (per stage, the first also the stem's width).
            Defaults to 'resnet18'.
        in_channels (int): Image channels. Defaults to 3.
        w_bits (int, optional): Weight bits of every convolution; None:
            full precision. Defaults to 2.
        a_bits (int, optional): Bits of every activation; None: full
            precision (the quantisers are identities). Defaults to 4.
        act_scale (float): Input multiplier of the activation quantisers
            (they clip at ``1 / act_scale``). Defaults to 0.1.
        max_conv_in (int): Most input channels of a merge convolution: a
            block of ``planes`` channels merges in ``ceil(2 * planes /
            max_conv_in)`` groups. Defaults to 512 (the official bound).
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
    }
    arch_keys = ('depths', 'widths')
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
        if not isinstance(max_conv_in, int) or max_conv_in < 2:
            raise ValueError(
                f'max_conv_in must be an int >= 2, got {max_conv_in!r}')
        self.depths, self.embed_dims = depths, widths
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
        #: Merge groups of each stage's blocks.
        self.splits = []
        self.stages = nn.ModuleList()
        prev = widths[0]
        for i, (depth, width) in enumerate(zip(depths, widths)):
            splits = math.ceil(2 * width / max_conv_in)
            if width % splits:
                raise ValueError(
                    f'stage {i} ({width} channels) merges in {splits} groups '
                    f'(max_conv_in={max_conv_in}), which do not divide its '
                    'channels; choose max_conv_in so that they do')
            self.splits.append(splits)
            self.stages.append(
                nn.Sequential(*[
                    ConcatBasicBlock(prev if j == 0 else width, width,
                                     2 if i > 0 and j == 0 else 1, splits,
                                     **unit) for j in range(depth)
                ]))
            prev = width

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
