# Copyright (c) mmvitplug contributors.
"""Linear classification head with dropout on its input."""
from typing import Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead

from mmvitplug.registry import MODELS


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` with dropout before the linear layer
    (timm's classifier ``drop_rate``; the official HAT-Net classifier is
    ``Dropout(0.2)`` + ``Linear``). Same keys (``fc.*``) as
    ``LinearClsHead``, so checkpoints move between the two.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Input feature channels.
        dropout_rate (float): Probability of zeroing a feature in training,
            in [0, 1). Defaults to 0.
        **kwargs: The other ``LinearClsHead`` arguments (``loss``,
            ``topk``, ``init_cfg``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 dropout_rate: float = 0.,
                 **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        if not 0. <= dropout_rate < 1.:
            raise ValueError(
                f'dropout_rate must be in [0, 1), got {dropout_rate}')
        self.dropout = nn.Dropout(dropout_rate)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last feature of ``feats``, through the dropout."""
        return self.dropout(super().pre_logits(feats))
