# Copyright (c) mmvitplug contributors.
"""Simple feature pyramid of ViTDet for plain (single-scale) ViT backbones."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmvitplug.registry import MODELS

#: Levels built from the backbone map (strides 4, 8, 16 and 32).
_NUM_LEVELS = 4


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Simple feature pyramid of ViTDet.

    A plain ViT gives one stride-16 feature map. ViTDet (`Exploring Plain
    Vision Transformer Backbones for Object Detection
    <https://arxiv.org/abs/2203.16527>`_) builds a pyramid from that single
    map, without any top-down pathway:

    - stride 4: ``2x2 deconv -> norm -> GELU -> 2x2 deconv``
    - stride 8: ``2x2 deconv``
    - stride 16: identity
    - stride 32: ``2x2 max pooling``

    Every level is then projected by a 1x1 lateral conv and a 3x3 output
    conv (each with ``norm_cfg``, no bias when normalised). Levels beyond the
    fourth (``num_outs > 4``) are obtained, as mmdet's ``FPN`` does for
    Mask R-CNN, by subsampling the last output with a stride-2 max pooling of
    kernel 1 (stride 64 for ``num_outs=5``).

    The module works as a neck of mmdet detectors and mmseg segmentors: it
    takes the tuple of backbone outputs and returns a tuple of NCHW maps. Its
    parameter names follow mmdet's ViTDet project (``fpn1``..``fpn4``,
    ``lateral_convs``, ``fpn_convs``).

    Args:
        backbone_channel (int): Channels of the backbone feature map.
        in_channels (Sequence[int], optional): Channels of the four levels
            after the scale operations, i.e. the output channels of the two
            deconvolution branches followed by ``backbone_channel`` twice
            (identity and max pooling keep the channels). The stride-4 branch
            goes through ``in_channels[1]`` channels between its two deconvs.
            Defaults to None, meaning ViTDet's
            ``[backbone_channel // 4, backbone_channel // 2, backbone_channel,
            backbone_channel]``.
        out_channels (int): Channels of every output level. Defaults to 256.
        num_outs (int): Number of output levels, at least 4. Defaults to 5.
        norm_cfg (dict, optional): Normalisation after the first deconv of
            the stride-4 branch and in the lateral/output convs. None
            disables it (the convs then have a bias). Defaults to
            ``dict(type='mmvitplug.LN2d', eps=1e-6)``.
        act_cfg (dict, optional): Activation after the lateral and output
            convs. Defaults to None, as in ViTDet.
        use_in_index (int): Which backbone output feeds the pyramid (Python
            indexing, so -1 is the last). Defaults to -1.
        init_cfg (dict | list[dict], optional): Initialisation config. By
            default the convs use ``ConvModule``'s Kaiming (fan-out) init,
            which is ViTDet's ``c2_msra_fill``. Defaults to None.
    """

    def __init__(self,
                 backbone_channel: int,
                 in_channels: Optional[Sequence[int]] = None,
                 out_channels: int = 256,
                 num_outs: int = 5,
                 norm_cfg: Optional[dict] = dict(
                     type='mmvitplug.LN2d', eps=1e-6),
                 act_cfg: Optional[dict] = None,
                 use_in_index: int = -1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(backbone_channel, int) or backbone_channel <= 0:
            raise ValueError('backbone_channel must be a positive int, got '
                             f'{backbone_channel!r}')
        if in_channels is None:
            in_channels = [
                backbone_channel // 4, backbone_channel // 2,
                backbone_channel, backbone_channel
            ]
        in_channels = list(in_channels)
        if len(in_channels) != _NUM_LEVELS:
            raise ValueError(
                f'in_channels needs one entry per pyramid level (strides '
                f'4, 8, 16, 32), i.e. {_NUM_LEVELS} entries, got '
                f'{in_channels}')
        if any(not isinstance(c, int) or c <= 0 for c in in_channels):
            raise ValueError(
                f'in_channels must be positive ints, got {in_channels}')
        if in_channels[2:] != [backbone_channel, backbone_channel]:
            raise ValueError(
                'in_channels[2] and in_channels[3] (stride 16 identity and '
                'stride 32 max pooling) must equal backbone_channel='
                f'{backbone_channel}, got {in_channels}')
        if not isinstance(out_channels, int) or out_channels <= 0:
            raise ValueError('out_channels must be a positive int, got '
                             f'{out_channels!r}')
        if not isinstance(num_outs, int) or num_outs < _NUM_LEVELS:
            raise ValueError(
                f'num_outs must be an int >= {_NUM_LEVELS} (the strides 4, '
                f'8, 16 and 32 levels; 5 adds stride 64), got {num_outs!r}')
        if not isinstance(use_in_index, int):
            raise ValueError(
                f'use_in_index must be an int, got {use_in_index!r}')

        self.backbone_channel = backbone_channel
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.use_in_index = use_in_index

        mid_norm = (nn.Identity() if norm_cfg is None else build_norm_layer(
            norm_cfg, in_channels[1])[1])
        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(backbone_channel, in_channels[1], 2, 2),
            mid_norm,
            nn.GELU(),
            nn.ConvTranspose2d(in_channels[1], in_channels[0], 2, 2),
        )
        self.fpn2 = nn.ConvTranspose2d(backbone_channel, in_channels[1], 2, 2)
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for channels in in_channels:
            self.lateral_convs.append(
                ConvModule(
                    channels,
                    out_channels,
                    1,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs; entry
                ``use_in_index`` is the stride-16 map of shape
                ``(B, backbone_channel, H, W)``.

        Returns:
            tuple[Tensor]: ``num_outs`` contiguous NCHW maps of
            ``out_channels`` channels and strides 4, 8, 16, 32 (then 64, 128,
            ...) relative to the image, i.e. spatial sizes
            ``4H, 2H, H, H // 2, ...``.
        """
        if not isinstance(inputs, (tuple, list)):
            raise TypeError('SimpleFPN expects the tuple of backbone outputs, '
                            f'got {type(inputs).__name__}')
        if not -len(inputs) <= self.use_in_index < len(inputs):
            raise IndexError(
                f'use_in_index={self.use_in_index} is out of range for the '
                f'{len(inputs)} backbone outputs')
        x = inputs[self.use_in_index]
        if x.dim() != 4 or x.shape[1] != self.backbone_channel:
            raise ValueError(
                'SimpleFPN expects an NCHW map with backbone_channel='
                f'{self.backbone_channel} channels, got shape '
                f'{tuple(x.shape)} (use out_type="featmap" in the backbone)')

        levels = [self.fpn1(x), self.fpn2(x), self.fpn3(x), self.fpn4(x)]
        outs = [
            fpn_conv(lateral_conv(level)) for level, lateral_conv, fpn_conv
            in zip(levels, self.lateral_convs, self.fpn_convs)
        ]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        # ViT feature maps and LayerNorm2d outputs are channels-last views;
        # mmcv's RoIAlign reads raw NCHW memory and silently gets wrong
        # values from them, so hand out contiguous NCHW maps.
        return tuple(out.contiguous() for out in outs)
