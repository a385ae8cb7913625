# Copyright (c) mmvitplug contributors.
"""Image classification with co-trained stochastic-depth submodels."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import call_loss, get_targets


def stochastic_depth_rates(model: nn.Module) -> List[float]:
    """Drop probabilities of the stochastic-depth (``DropPath``) modules of
    ``model`` (ours, mmcv's or timm's: any module class named ``DropPath``
    with a ``drop_prob``)."""
    return [
        float(m.drop_prob) for m in model.modules()
        if 'DropPath' in type(m).__name__ and hasattr(m, 'drop_prob')
    ]


@MODELS.register_module()
class CoSubClassifier(ImageClassifier):
    """Image classifier trained with `cosub
    <https://arxiv.org/abs/2212.04884>`_ (co-training :math:`2^L`
    submodels).

    In training, every image is classified by two submodels of the same
    network drawn by stochastic depth, and each submodel is a soft teacher
    of the other. As in the official code, the batch after the data
    preprocessor (normalisation, Mixup / CutMix) is concatenated with itself,
    so both submodels see the same augmented image and the same target, and
    the backbone runs once on the ``2N`` images: the per-sample drop-path
    masks make the two copies of an image, and different images, go through
    different subsets of residual blocks. The head maps all ``2N`` features
    to logits, which are split into the two submodels' halves and given to
    the classifier's ``loss`` (by default :class:`CoSubLoss`; the maths
    lives there: label terms and mutual terms with stop-gradient teachers)
    as ``loss(logits1=..., logits2=..., target=...)``, the loss protocol of
    :mod:`mmvitplug.models.losses.utils`. The loss is a sub-module of the
    classifier; the head's own loss is not used.

    Inference (``predict``, ``mode='tensor'``) is the full network in eval
    mode, without stochastic depth, exactly as :class:`ImageClassifier`;
    checkpoints load into a plain ``ImageClassifier`` with the same
    backbone and head.

    Args:
        backbone (dict): Backbone with stochastic depth, e.g.
            ``dict(type='mmvitplug.DeiT', drop_path_rate=0.1)``; some
            ``DropPath`` rate must be > 0, otherwise both submodels would be
            the full network.
        head (dict): Classification head, without a ``loss`` (the loss is
            ``loss`` below), e.g. ``dict(type='LinearClsHead', ...)``.
        loss (dict | nn.Module): The co-training loss, called with the
            keyword arguments ``logits1``, ``logits2`` (the two submodels'
            logits, (N, C) each) and ``target`` (labels (N,) or mixed scores
            (N, C)). Defaults to ``dict(type='mmvitplug.CoSubLoss')``.
        neck (dict, optional): Neck. Defaults to None.
        train_cfg (dict, optional): Batch augments (Mixup / CutMix), applied
            once, before the batch is duplicated. Defaults to None.
        data_preprocessor (dict, optional): As in :class:`ImageClassifier`.
            Defaults to None.
        init_cfg (dict, optional): Initialisation. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 loss: Union[dict, nn.Module] = dict(
                     type='mmvitplug.CoSubLoss'),
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if isinstance(head, dict) and 'loss' in head:
            raise ValueError(
                'model.head.loss is not used by CoSubClassifier: its loss is '
                "model.loss (default dict(type='mmvitplug.CoSubLoss')); move "
                'the CoSubLoss config there and remove model.head.loss')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if isinstance(loss, dict):
            loss = MMPRETRAIN_MODELS.build(loss)
        if not isinstance(loss, nn.Module):
            raise TypeError('model.loss must be a loss config dict, e.g. '
                            "dict(type='mmvitplug.CoSubLoss'), got "
                            f'{type(loss).__name__}')
        self.loss_module = loss
        if getattr(self.head, 'cal_acc', False):
            raise ValueError(
                'model.head.cal_acc=True is not supported by '
                'CoSubClassifier (training accuracy of mixed targets is '
                'meaningless); remove it')
        rates = stochastic_depth_rates(self.backbone)
        if not any(r > 0 for r in rates):
            raise ValueError(
                'cosub needs stochastic depth, but the backbone '
                f'{type(self.backbone).__name__} has no DropPath with a '
                'rate > 0, so both submodels would be the same network: set '
                'model.backbone.drop_path_rate > 0 (e.g. 0.1)')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Co-training losses of two submodels on the same images.

        Args:
            inputs (Tensor): Preprocessed (and mixed) images (N, C, H, W).
            data_samples (list[DataSample]): Labels or mixed label scores.

        Returns:
            dict[str, Tensor]: The loss's terms (``loss_label`` and
            ``loss_mutual`` from :class:`CoSubLoss`).
        """
        num = inputs.size(0)
        feats = self.extract_feat(torch.cat([inputs, inputs], dim=0))
        logits = self.head(feats)
        return call_loss(
            'loss', self.loss_module,
            dict(logits1=logits[:num], logits2=logits[num:],
                 target=get_targets(data_samples)))
