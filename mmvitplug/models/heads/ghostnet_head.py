# Copyright (c) mmvitplug contributors.
"""GhostNet's classification head: global average pooling, a 1x1
convolution to 1280 channels with ReLU, dropout, a linear classifier.

`Han et al. 2020, "GhostNet" <https://arxiv.org/abs/1911.11907>`_;
official code: huawei-noah/Efficient-AI-Backbones ``ghostnet_pytorch``
(``conv_head``, ``act2``, ``classifier``), timm ``ghostnet_*``.
"""
from typing import Sequence

import torch
import torch.nn as nn

from mmvitplug.registry import MODELS
from .dropout_linear_head import DropoutLinearClsHead
from .featmap import last_featmap


@MODELS.register_module()
class GhostNetClsHead(DropoutLinearClsHead):
    """The official GhostNet / GhostNetV2 classifier on the last stage's
    map (backbone ``out_type='featmap'``): its spatial mean, ``conv_head``
    (a 1x1 convolution with bias to ``head_channels``), ReLU, dropout,
    ``fc``.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the backbone's last stage.
        head_channels (int): Width of ``conv_head``. Defaults to 1280.
        dropout_rate (float): Dropout before ``fc``. Defaults to 0.2 (the
            official value).
        **kwargs: The other ``LinearClsHead`` arguments (``loss``,
            ``topk``, ``cal_acc``, ``init_cfg``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 head_channels: int = 1280,
                 dropout_rate: float = 0.2,
                 **kwargs):
        super().__init__(
            num_classes, head_channels, dropout_rate=dropout_rate, **kwargs)
        self.backbone_channels = in_channels
        self.conv_head = nn.Conv2d(in_channels, head_channels, 1)
        self.act = nn.ReLU(inplace=True)

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pool the last (B, C, H, W) map, ``conv_head``, ReLU, dropout."""
        x = last_featmap(feats, self.backbone_channels, 'GhostNetClsHead')
        x = self.act(self.conv_head(x.mean((2, 3), keepdim=True)))
        return self.dropout(x.flatten(1))
