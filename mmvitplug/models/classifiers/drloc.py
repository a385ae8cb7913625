# Copyright (c) mmvitplug contributors.
"""Supervised classification with the dense relative localisation (DRLoc)
auxiliary loss."""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..backbones.base import VisionBackbone
from ..heads.drloc_head import DRLocHead


@MODELS.register_module()
class DRLocClassifier(ImageClassifier):
    """Image classifier trained with the dense relative localisation loss of
    `Liu et al. 2021 <https://arxiv.org/abs/2106.03746>`_ ("Efficient
    training of visual transformers with small datasets").

    In training, the loss is the head's supervised loss plus the DRLoc term
    of ``drloc_head`` (:class:`DRLocHead`, whose :class:`DRLocLoss` holds
    :math:`\\lambda` and the schedule factor set by
    :class:`DRLocWeightHook`) on the backbone's final token map, from the
    same forward pass:

    - an mmvitplug backbone (any family, flat or pyramid, any
      ``out_type``): its last ``out_indices`` stage is also formatted as
      ``out_type='featmap'`` (B, C, H, W), i.e. the patch tokens without
      class / distillation tokens, after the final norm where the family
      applies one; for a pyramid (CvT, PiT, LeViT, CMT) the last stage's
      map. The official ViT uses the last block's tokens before the final
      norm (its norm is in the classification head);
    - any other backbone whose last output is already a map (B, C, H, W)
      (mmpretrain's Swin, ResNet...; give the classifier a pooling neck,
      e.g. ``GlobalAveragePooling``): that map.

    Inference (``predict``, ``mode='tensor'``) is :class:`ImageClassifier`'s,
    without the DRLoc MLP, whose weights (``drloc_head.*``) a plain
    ``ImageClassifier`` ignores when loading a checkpoint non-strictly.

    Args:
        backbone (dict): Backbone config.
        head (dict): Classification head config (with its own loss).
        drloc_head (dict): :class:`DRLocHead` config; ``in_channels`` is the
            map's channels (for a pyramid, the last stage's).
        neck (dict, optional): Neck between the backbone and the head
            (the DRLoc map is taken before it). Defaults to None.
        train_cfg (dict, optional): Batch augments, as
            :class:`ImageClassifier`. Defaults to None.
        data_preprocessor (dict, optional): As :class:`ImageClassifier`.
            Defaults to None.
        init_cfg (dict, optional): Initialisation. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 drloc_head: dict,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if isinstance(drloc_head, dict):
            drloc_head = MMPRETRAIN_MODELS.build(drloc_head)
        if not isinstance(drloc_head, DRLocHead):
            raise TypeError(
                'model.drloc_head must build a DRLocHead, e.g. '
                "dict(type='mmvitplug.DRLocHead', in_channels=192), got "
                f'{type(drloc_head).__name__}')
        self.drloc_head = drloc_head
        bb = self.backbone
        if isinstance(bb, VisionBackbone) and 'featmap' not in bb.out_types:
            raise ValueError(
                f'{type(bb).__name__} has no featmap output (out_types '
                f'{list(bb.out_types)}): DRLoc needs the token map')

    def extract_feat_and_map(
            self, inputs: torch.Tensor) -> Tuple[tuple, torch.Tensor]:
        """One forward pass: the features for the head (after the neck) and
        the token map (B, C, H, W) of the last output stage.

        Args:
            inputs (Tensor): Images (B, C, H, W).

        Returns:
            tuple[tuple, Tensor]: The features and the map.
        """
        backbone = self.backbone
        if isinstance(backbone, VisionBackbone):
            with backbone.also_output('featmap') as maps:
                feats = backbone(inputs)
            featmap = maps[-1]  # the last output stage's map
        else:
            feats = backbone(inputs)
            last = feats[-1] if isinstance(feats, (tuple, list)) else feats
            if not torch.is_tensor(last) or last.dim() != 4:
                raise ValueError(
                    f'DRLoc needs a token map: {type(backbone).__name__} '
                    'is not an mmvitplug backbone and its last output is '
                    f'not a (B, C, H, W) map (got '
                    f'{getattr(last, "shape", type(last).__name__)}); use an '
                    'mmvitplug backbone or a backbone with map outputs '
                    "(e.g. mmpretrain's SwinTransformer) and a pooling neck")
            featmap = last
        if self.with_neck:
            feats = self.neck(feats)
        return feats, featmap

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Supervised loss of the head plus the DRLoc loss.

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).
            data_samples (list[DataSample]): Labels (or mixed scores).

        Returns:
            dict[str, Tensor]: The head's losses, ``loss_drloc`` and
            ``drloc_weight`` (logged only).
        """
        feats, featmap = self.extract_feat_and_map(inputs)
        losses = self.head.loss(feats, data_samples)
        drloc = self.drloc_head.loss(featmap)
        clash = set(losses) & set(drloc)
        if clash:
            raise ValueError(f'the head already returns {sorted(clash)}')
        losses.update(drloc)
        return losses
