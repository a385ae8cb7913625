# Copyright (c) mmvitplug contributors.
"""InternImage's classification head: a 1x1 convolution widening the last
level, BatchNorm, GELU, global average pooling, a linear classifier.

`Wang et al. 2023, "InternImage" <https://arxiv.org/abs/2211.05778>`_;
official code: OpenGVLab/InternImage (``conv_head`` and ``head`` of
``classification/models/intern_image.py``).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead

from mmvitplug.registry import MODELS
from .featmap import last_featmap


@MODELS.register_module()
class InternImageClsHead(LinearClsHead):
    """The official InternImage classifier on the last level's map.

    ``conv_head`` (a 1x1 convolution without bias to
    ``int(in_channels * cls_scale)`` channels, BatchNorm, GELU) runs on the
    (B, C, H, W) map of the backbone's last output (``out_type='featmap'``),
    which is then averaged over space and classified by ``fc``.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the backbone's last level.
        cls_scale (float): Width of ``conv_head`` per input channel.
            Defaults to 1.5 (the official value).
        loss (dict): Classification loss. Defaults to
            ``CrossEntropyLoss``.
        init_cfg (dict, optional): Defaults to truncated normal (std 0.02)
            linear weights and zero biases (the official initialisation;
            the convolution keeps PyTorch's).
        **kwargs: The other ``LinearClsHead`` arguments (``topk``,
            ``cal_acc``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 cls_scale: float = 1.5,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                 **kwargs):
        hidden = int(in_channels * cls_scale)
        super().__init__(
            num_classes, hidden, loss=loss, init_cfg=init_cfg, **kwargs)
        self.backbone_channels = in_channels
        self.conv_head = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden), nn.GELU())

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``conv_head`` on the last (B, C, H, W) map, then its spatial
        mean (B, int(C * cls_scale))."""
        x = last_featmap(feats, self.backbone_channels, 'InternImageClsHead')
        return self.conv_head(x).mean(dim=(2, 3))
