# Copyright (c) mmvitplug contributors.
"""The head of PAWS: optional prediction MLP + the PAWS loss."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS


@MODELS.register_module()
class PAWSHead(BaseModule):
    """Prediction head and loss of `PAWS <https://arxiv.org/abs/2104.13963>`_.

    The prediction MLP maps the projection ``h`` to the anchor embedding
    ``z``; it is the official ``use_pred_head`` 4x bottleneck (ImageNet
    configs): ``BN - Linear(C, C/4) - BN - ReLU - Linear(C/4, C)``. Without
    it (``with_predictor=False``, the official CIFAR-10 config) ``z = h``.

    Args:
        in_channels (int): Channels of ``h`` (the projection's output).
        hid_channels (int, optional): Hidden channels of the predictor.
            Defaults to ``in_channels // 4`` (official).
        with_predictor (bool): Build the prediction MLP. Defaults to True.
        norm_cfg (dict): Norm of the predictor. Defaults to
            ``dict(type='BN1d')``; ``SyncBN`` as official under DDP on GPUs.
        loss (dict): The loss. Defaults to ``dict(type='mmvitplug.PAWSLoss')``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: Optional[int] = None,
                 with_predictor: bool = True,
                 norm_cfg: dict = dict(type='BN1d'),
                 loss: dict = dict(type='mmvitplug.PAWSLoss'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if hid_channels is None:
            hid_channels = in_channels // 4
        if in_channels < 1 or hid_channels < 1:
            raise ValueError(f'in_channels ({in_channels}) and hid_channels '
                             f'({hid_channels}) must be positive')
        self.with_predictor = with_predictor
        self.predictor = nn.Sequential(
            build_norm_layer(norm_cfg, in_channels)[1],
            nn.Linear(in_channels, hid_channels),
            build_norm_layer(norm_cfg, hid_channels)[1],
            nn.ReLU(inplace=True),
            nn.Linear(hid_channels, in_channels),
        ) if with_predictor else None
        self.loss_module = loss if isinstance(loss, nn.Module) else \
            MMPRETRAIN_MODELS.build(loss)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Projections ``h`` (N, C) -> anchor embeddings ``z`` (N, C)."""
        return self.predictor(h) if self.with_predictor else h

    def loss(self, anchor_views: torch.Tensor, anchor_supports: torch.Tensor,
             support_labels: torch.Tensor, target_views: torch.Tensor,
             target_supports: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The loss terms (arguments of :class:`mmvitplug.PAWSLoss`) as
        ``loss_paws`` and, with me-max, ``loss_me_max``."""
        paws, me_max = self.loss_module(anchor_views, anchor_supports,
                                        support_labels, target_views,
                                        target_supports)
        losses = dict(loss_paws=paws)
        if getattr(self.loss_module, 'me_max', True):
            losses['loss_me_max'] = me_max
        return losses
