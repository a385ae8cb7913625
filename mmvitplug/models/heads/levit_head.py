# Copyright (c) mmvitplug contributors.
"""Classification head of LeViT: BatchNorm + Linear, optionally twice."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from .deit_distill_head import DeiTDistillHead


class BNLinear(nn.Module):
    """``BatchNorm1d`` then ``nn.Linear`` (LeViT's classifier).

    Args:
        in_features (int): Input channels.
        out_features (int): Classes.
        drop (float): Dropout between the two. Defaults to 0.
    """

    def __init__(self, in_features: int, out_features: int,
                 drop: float = 0.):
        super().__init__()
        self.bn = nn.BatchNorm1d(in_features)
        self.drop = nn.Dropout(drop)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.drop(self.bn(x)))

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        """The equivalent ``nn.Linear`` (eval mode) with the BN folded in."""
        bn, lin = self.bn, self.linear
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        shift = bn.bias - bn.running_mean * scale
        fused = nn.Linear(lin.in_features, lin.out_features).to(lin.weight)
        fused.weight.copy_(lin.weight * scale[None, :])
        fused.bias.copy_(lin.weight @ shift + lin.bias)
        return fused


@MODELS.register_module()
class LeViTClsHead(DeiTDistillHead):
    """LeViT's classifier(s) on the pooled tokens
    (`LeViT <https://arxiv.org/abs/2104.01136>`_).

    ``head`` (and with ``distilled=True`` ``head_dist``) are BatchNorm1d +
    Linear on the backbone's pooled feature (``out_type='avg_featmap'``);
    inference averages the two logits as the official code and timm's
    ``LevitDistilled``. Inside :class:`mmvitplug.DistillationClassifier`
    the distiller records ``head.head`` / ``head.head_dist`` (the DeiT
    hard-distillation of the paper); without a teacher both classifiers
    learn the labels (``distilled=True``) or the single one does.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the pooled feature.
        distilled (bool): Build the distillation classifier ``head_dist``.
            Defaults to True (the released checkpoints have it).
        drop (float): Dropout before the linear layers. Defaults to 0.
        loss (dict, optional): Loss without a teacher. Defaults to
            ``DeiTDistillLoss(distill_type='none')`` (distilled) or
            ``CrossEntropyLoss``.
        init_cfg (dict, optional): Defaults to truncated normal (std 0.02)
            linear weights and zero biases, the official initialisation.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 distilled: bool = True,
                 drop: float = 0.,
                 loss: Optional[dict] = None,
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02,
                     bias=0.)):
        if loss is None:
            loss = dict(type='mmvitplug.DeiTDistillLoss',
                        distill_type='none') if distilled else dict(
                            type='CrossEntropyLoss', loss_weight=1.0)
        super().__init__(num_classes, in_channels, loss=loss,
                         dist_feature='pooled', init_cfg=init_cfg)
        self.distilled = distilled
        self.head = BNLinear(in_channels, num_classes, drop)
        self.head_dist = BNLinear(in_channels, num_classes, drop) \
            if distilled else None

    def forward_logits(self, feats: Sequence[torch.Tensor]):
        """Logits of ``head`` and ``head_dist`` (None when not distilled)."""
        x, _ = self.pre_logits(feats)
        return self.head(x), (self.head_dist(x) if self.distilled else None)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Inference logits (the average of the two classifiers)."""
        x, x_dist = self.forward_logits(feats)
        return x if x_dist is None else (x + x_dist) / 2

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample]) -> dict:
        """Losses without a teacher."""
        if self.distilled:
            return super().loss(feats, data_samples)
        logits, _ = self.forward_logits(feats)
        return self._get_loss(logits, data_samples)  # mmpretrain ClsHead's


__all__ = ['BNLinear', 'LeViTClsHead']
