# Copyright (c) mmvitplug contributors.
"""Classification head of the distilled DeiT (class + distillation token)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import call_loss, get_targets


@MODELS.register_module()
class DeiTDistillHead(ClsHead):
    """Two linear classifiers of the distilled `DeiT
    <https://arxiv.org/abs/2012.12877>`_.

    With ``dist_feature='dist_token'``, ``head`` reads the class token and
    ``head_dist`` the distillation token of the last backbone output, which
    must be the ``(cls, dist)`` pair of
    ``mmvitplug.DeiT(distilled=True, out_type='cls_token')``. Architectures
    without a distillation token (CaiT, ResMLP, PatchConvNet) use
    ``dist_feature='pooled'``: both classifiers read the backbone's pooled
    feature (N, C) (its class-attention / attention-pooled class token, or
    the average of its tokens), so distillation adds only a second linear
    head. Inference (``forward``, ``predict``) uses the average of the two
    logits ``(x + x_dist) / 2``, as the paper and the official code do.

    Distillation is not the head's business: inside
    :class:`mmvitplug.DistillationClassifier` the distiller records the
    outputs of ``head.head`` and ``head.head_dist`` (and the teacher's) and
    computes the loss, and the head's own ``loss`` is not used. The head's
    loss trains it without a teacher, in a plain ``ImageClassifier``: by
    default both classifiers learn the labels (:class:`DeiTDistillLoss`
    with ``distill_type='none'``, the paper's "two class tokens" control).

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Token dimension of the backbone.
        loss (dict): Config of the loss used without a teacher, called as
            ``loss(cls_logits=..., dist_logits=..., target=...)``. Defaults
            to ``dict(type='mmvitplug.DeiTDistillLoss',
            distill_type='none')`` (both classifiers on the labels, alpha
            0.5).
        dist_feature (str): What ``head_dist`` reads: ``'dist_token'`` (the
            second element of a ``(cls, dist)`` pair) or ``'pooled'`` (the
            same pooled feature as ``head``). Defaults to 'dist_token'.
        init_cfg (dict, optional): Initialisation of the two classifiers.
            Defaults to truncated normal (std 0.02) weights and zero biases,
            the official initialisation.
    """

    dist_features = ('dist_token', 'pooled')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(
                     type='mmvitplug.DeiTDistillLoss', distill_type='none'),
                 dist_feature: str = 'dist_token',
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02, bias=0.)):
        super().__init__(loss=loss, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(
                f'num_classes={num_classes} must be a positive integer')
        if dist_feature not in self.dist_features:
            raise ValueError(f"Unknown dist_feature '{dist_feature}'; "
                             f'choose from {list(self.dist_features)}')
        self.dist_feature = dist_feature
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.head = nn.Linear(in_channels, num_classes)
        self.head_dist = nn.Linear(in_channels, num_classes)

    def pre_logits(
        self, feats: Sequence[Tuple[torch.Tensor, torch.Tensor]]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The features of ``head`` and ``head_dist``: the ``(cls, dist)``
        token pair of the last backbone output, or its pooled feature twice.
        """
        last = feats[-1]
        if self.dist_feature == 'pooled':
            if not (isinstance(last, torch.Tensor) and last.dim() == 2):
                got = (f'a tensor of shape {tuple(last.shape)}' if isinstance(
                    last, torch.Tensor) else type(last).__name__)
                raise TypeError(
                    "DeiTDistillHead(dist_feature='pooled') needs a pooled "
                    '(N, C) feature as the last backbone output (e.g. '
                    "out_type='cls_token' of CaiT / PatchConvNet or "
                    f"'avg_featmap' of ResMLP), got {got}.")
            return last, last
        if not (isinstance(last, (tuple, list)) and len(last) == 2):
            got = (f'a tensor of shape {tuple(last.shape)}'
                   if isinstance(last, torch.Tensor) else type(last).__name__)
            raise TypeError(
                'DeiTDistillHead needs the (cls_token, dist_token) pair of a '
                "distilled backbone (mmvitplug.DeiT with distilled=True and "
                f"out_type='cls_token'), but the last backbone output is "
                f"{got}. Set distilled=True in the backbone, or use "
                "dist_feature='pooled' for a backbone without a "
                'distillation token.')
        return last[0], last[1]

    def forward_logits(
        self, feats: Sequence[Tuple[torch.Tensor, torch.Tensor]]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class-token and distillation-token logits, each (N, C)."""
        cls_token, dist_token = self.pre_logits(feats)
        return self.head(cls_token), self.head_dist(dist_token)

    def forward(
        self, feats: Sequence[Tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        """Inference logits: the average of the two classifiers."""
        x, x_dist = self.forward_logits(feats)
        return (x + x_dist) / 2

    def loss(self, feats: Sequence[Tuple[torch.Tensor, torch.Tensor]],
             data_samples: List[DataSample]) -> dict:
        """Losses of both classifiers without a teacher.

        Args:
            feats (tuple): Backbone outputs; the last is ``(cls, dist)`` (or
                the pooled feature).
            data_samples (list[DataSample]): Samples with ``gt_label``, or
                ``gt_score`` after Mixup / CutMix.

        Returns:
            dict[str, Tensor]: The loss module's terms.
        """
        cls_logits, dist_logits = self.forward_logits(feats)
        return call_loss(
            'loss', self.loss_module,
            dict(cls_logits=cls_logits, dist_logits=dist_logits,
                 target=get_targets(data_samples)))
