# Copyright (c) mmvitplug contributors.
"""DeeperCluster's hierarchical classifier: a super-class layer and one
sub-class layer per super-class."""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmvitplug.registry import MODELS


@MODELS.register_module()
class DeeperClusterHead(BaseModule):
    """Super-class layer + one sub-class layer per super-class
    (`Caron et al. 2019 <https://arxiv.org/abs/1905.01278>`_, Sec. 3.3:
    :math:`\\ell = \\ell_{super}(y_s) + \\ell_{sub}^{(y_s)}(y_{sub})`).

    The official code gives every super-class its own group of processes,
    each training only that super-class's sub-class layer; here one process
    routes each sample to the sub-class layer of its super-class. The
    sub-class layers are one parameter tensor (``sub_weight``: (S, k, C),
    ``sub_bias``: (S, k)) used slice by slice, so every parameter takes
    part in every step (no unused parameters under DDP).

    All layers are initialised as ``torch.nn.Linear`` (uniform in
    :math:`\\pm 1/\\sqrt{C}`, weights and biases), as the official
    ``build_prediction_layer``, and again at every reassignment
    (:meth:`reset_parameters`).

    Args:
        in_channels (int): Feature dimension C.
        num_super_classes (int): Number of super-classes S (4 rotations x
            super-clusters, or the super-clusters without rotations).
        num_sub_classes (int): Sub-classes k per super-class.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_super_classes: int,
                 num_sub_classes: int,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if min(in_channels, num_super_classes, num_sub_classes) < 1:
            raise ValueError('in_channels, num_super_classes and '
                             'num_sub_classes must be >= 1, got '
                             f'{in_channels}, {num_super_classes}, '
                             f'{num_sub_classes}')
        self.in_channels = in_channels
        self.num_super_classes = num_super_classes
        self.num_sub_classes = num_sub_classes
        self.super_fc = nn.Linear(in_channels, num_super_classes)
        self.sub_weight = nn.Parameter(
            torch.empty(num_super_classes, num_sub_classes, in_channels))
        self.sub_bias = nn.Parameter(
            torch.empty(num_super_classes, num_sub_classes))
        self.reset_parameters()

    def reset_parameters(self,
                         generator: Optional[torch.Generator] = None,
                         super_layer: bool = True) -> None:
        """Uniform in :math:`\\pm 1/\\sqrt{C}` (``nn.Linear``'s default),
        the sub-class layers and, if ``super_layer``, the super-class
        layer."""
        bound = 1 / math.sqrt(self.in_channels)
        params = [self.sub_weight, self.sub_bias]
        if super_layer:
            params += [self.super_fc.weight, self.super_fc.bias]
        with torch.no_grad():
            for p in params:
                p.copy_(
                    torch.empty(p.shape).uniform_(
                        -bound, bound, generator=generator))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Super-class logits (B, S)."""
        return self.super_fc(feats)

    def sub_logits(self, feats: torch.Tensor,
                   super_classes: torch.Tensor) -> torch.Tensor:
        """Logits (B, k) of each sample's own super-class layer."""
        out = feats.new_empty(len(feats), self.num_sub_classes)
        for s in super_classes.unique().tolist():
            mask = super_classes == s
            out[mask] = F.linear(feats[mask], self.sub_weight[s],
                                 self.sub_bias[s])
        return out

    def loss(self, feats: torch.Tensor, super_targets: torch.Tensor,
             sub_targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_super``: cross-entropy of the super-class layer;
        ``loss_sub``: cross-entropy of the sample's super-class layer on
        its sub-class (both averaged over the batch)."""
        return dict(
            loss_super=F.cross_entropy(self(feats), super_targets),
            loss_sub=F.cross_entropy(
                self.sub_logits(feats, super_targets), sub_targets))
