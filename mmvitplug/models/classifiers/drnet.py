# Copyright (c) mmvitplug contributors.
"""DRNet: image classification at a resolution chosen per image.

`Zhu et al. 2021, "Dynamic Resolution Network"
<https://arxiv.org/abs/2106.02898>`_ (NeurIPS 2021). The official release
(MindSpore, ``mindspore-ai/models`` ``research/cv/DRNet``) is an evaluation
script, ``eval.py``, with the predictor (``src/predictor.py``), the
classifier with resolution-specific BatchNorm (``src/classifier.py``) and
the Gumbel module (``src/gumbelmodule.py``); no training code.
"""
import math
from numbers import Integral, Real
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.models.backbones.resnet import BasicBlock, ResNet
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.layers import (Attention, convert_to_resolution_bn,
                              hard_gumbel_softmax, resize_to,
                              select_resolution)
from mmvitplug.registry import MODELS
from ..losses.utils import call_loss


@MODELS.register_module()
class ResolutionPredictor(ResNet):
    """DRNet's resolution predictor: a small ResNet, global average pooling
    and a linear layer to one logit per candidate resolution.

    The official predictor (``predictor([1, 1, 1, 1])``) is a ResNet of one
    basic block per stage (``depth=10`` here, added to mmpretrain's
    ``ResNet`` depths; 64 to 512 channels, the 7 x 7 stride-2 stem and
    max-pool), seeing the image resized to 128 x 128. Any other depth of
    mmpretrain's ``ResNet`` works too. Its BatchNorms are ordinary ones:
    the predictor always sees one size.

    Args:
        num_resolutions (int): Number of candidate resolutions (logits),
            >= 2.
        depth (int): 10 (one basic block per stage) or a depth of
            mmpretrain's ``ResNet`` (18, 34, 50, ...). Defaults to 10.
        **kwargs: mmpretrain ``ResNet`` arguments (``stem_channels``,
            ``base_channels``, ``norm_cfg``, ...).
    """

    arch_settings = dict(ResNet.arch_settings)
    arch_settings[10] = (BasicBlock, (1, 1, 1, 1))

    def __init__(self, num_resolutions: int, depth: int = 10, **kwargs):
        if isinstance(num_resolutions, bool) or not isinstance(
                num_resolutions, Integral) or num_resolutions < 2:
            raise ValueError('num_resolutions must be an int >= 2 (the '
                             f'candidates), got {num_resolutions!r}')
        if depth not in self.arch_settings:
            raise ValueError(f'depth must be one of '
                             f'{sorted(self.arch_settings)}, got {depth!r}')
        super().__init__(depth=depth, **kwargs)
        self.num_resolutions = int(num_resolutions)
        self.fc = nn.Linear(self.feat_dim, self.num_resolutions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_resolutions) of images (B, C, H, W)."""
        return self.fc(super().forward(x)[-1].mean((2, 3)))


class _ClassifierPath(nn.Module):
    """backbone -> neck -> head of a classifier, for the FLOP count."""

    def __init__(self, model: ImageClassifier):
        super().__init__()
        self.model = model

    def forward(self, x):
        model = self.model
        feats = model.backbone(x)
        if model.with_neck:
            feats = model.neck(feats)
        return model.head(feats)


def _check_size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or \
            value < 1:
        raise ValueError(f'{name} must be a positive int (a square size in '
                         f'pixels), got {value!r}')
    return int(value)


def _vit_reason(backbone: nn.Module) -> Optional[str]:
    """Why ``backbone`` cannot run at several resolutions with
    resolution-specific BatchNorm, or None."""
    name = type(backbone).__name__
    if any(isinstance(m, (Attention, nn.MultiheadAttention))
           for m in backbone.modules()) or any(
               'pos_embed' in n for n, _ in backbone.named_parameters()):
        return (f'{name} is a vision transformer (attention layers, position '
                'embeddings sized for one token grid): DRNet supports CNN '
                'backbones only (e.g. mmpretrain ResNet)')
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
               for m in backbone.modules()):
        return (f'{name} has no nn.BatchNorm2d to make resolution-specific: '
                'DRNet supports CNN backbones with BatchNorm only (e.g. '
                'mmpretrain ResNet); ViTs (LayerNorm) are not supported')
    return None


@MODELS.register_module()
class DRNetClassifier(ImageClassifier):
    """Image classifier with a per-image input resolution (`DRNet
    <https://arxiv.org/abs/2106.02898>`_).

    A small resolution predictor (:class:`ResolutionPredictor`, on the
    images resized to ``predictor_size``) gives logits over the candidate
    ``resolutions`` (largest first, e.g. the official 224, 168, 112); the
    classifier (backbone, neck, head) runs on the image resized (bilinear)
    to the chosen resolution, with the BatchNorm statistics and affine
    parameters of that resolution: every ``nn.BatchNorm2d`` of the backbone,
    neck and head is made a
    :class:`~mmvitplug.layers.ResolutionBatchNorm2d` (the official
    ``_bn(x, bn_selection)``).

    * **Training** (``loss``): a hard straight-through Gumbel-softmax
      sample :math:`h` (B, m) of the predictor's logits (temperature
      ``tau``) chooses one resolution per image. As in the official
      ``eval.py`` and the paper's Eq. 4, the classifier runs on the whole
      batch at every candidate resolution (each with its BatchNorm) and the
      logits are :math:`\\sum_j h_j \\, y_j`: the forward value is the
      chosen resolution's logits, and the predictor learns from the
      straight-through gradient :math:`\\partial L / \\partial h_j =
      \\langle \\partial L / \\partial y, y_j \\rangle`. The losses are the
      head's own loss on these logits (``loss``) and ``flops_loss``
      (:class:`~mmvitplug.models.losses.DRNetFLOPsLoss`, ``loss_flops``) on
      :math:`h` and the classifier's FLOPs at each resolution
      (:meth:`candidate_flops`); ``flops_ratio``, the batch's average cost
      over the cost at the largest resolution, is logged only.
    * **Inference** (``predict``, ``mode='tensor'``, :meth:`extract_feat`):
      the arg-max resolution of each image (:meth:`choose`); the batch is
      grouped by resolution and each group runs once, resized to its
      resolution, with its BatchNorm; the features are put back in the
      batch's order. Each image costs the predictor plus the classifier at
      its own resolution. (The official ``eval.py`` runs the classifier at
      every resolution and multiplies by the one-hot, so it saves nothing;
      it also adds Gumbel noise at inference, where the arg-max of the
      logits is taken here.)

    The features of the groups must have one shape (a pooling neck, e.g.
    ``GlobalAveragePooling``), so that they can be put back together.

    Supported backbones: CNNs with ``nn.BatchNorm2d`` whose layers accept
    any input size (mmpretrain's ``ResNet`` as in the paper, ...); vision
    transformers are refused (position embeddings and attention biases
    are sized for one token grid, and they have no BatchNorm to make
    resolution-specific), as are backbones without BatchNorm and with
    other BatchNorm types (SyncBatchNorm).

    A plain ``ImageClassifier`` checkpoint of the same backbone, neck and
    head loads (non-strictly: the predictor is missing), its BatchNorm
    state copied to every resolution.

    Args:
        backbone (dict): The CNN backbone config.
        head (dict): Classification head (an mmpretrain ``ClsHead``, with
            its loss).
        predictor (dict | nn.Module): The resolution predictor, e.g.
            ``dict(type='mmvitplug.ResolutionPredictor')``
            (``num_resolutions`` defaults to the number of resolutions);
            it maps images (B, C, s, s) to logits (B, m).
        resolutions (Sequence[int]): Candidate square sizes, >= 2 of them,
            strictly decreasing. Defaults to (224, 168, 112).
        predictor_size (int): Square size of the predictor's input.
            Defaults to 128.
        flops_loss (dict | nn.Module): The FLOPs constraint, called with
            ``decisions`` (B, m) and ``flops`` (m,). Defaults to
            ``dict(type='mmvitplug.DRNetFLOPsLoss')``.
        tau (float): Temperature of the Gumbel-softmax, > 0. Defaults to
            1.0 (the official module's ``temp=1``).
        neck (dict, optional): Neck. Defaults to None.
        train_cfg (dict, optional): Batch augments, as
            :class:`ImageClassifier`. Defaults to None.
        data_preprocessor (dict, optional): As :class:`ImageClassifier`.
            Defaults to None.
        init_cfg (dict, optional): Initialisation. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 predictor: Union[dict, nn.Module],
                 resolutions: Sequence[int] = (224, 168, 112),
                 predictor_size: int = 128,
                 flops_loss: Union[dict, nn.Module] = dict(
                     type='mmvitplug.DRNetFLOPsLoss'),
                 tau: float = 1.0,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(resolutions, (list, tuple)) or \
                len(resolutions) < 2:
            raise ValueError('resolutions must be a list of >= 2 candidate '
                             f'sizes (ints), got {resolutions!r}')
        sizes = [_check_size(r, 'each of resolutions') for r in resolutions]
        if any(b >= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError('resolutions must be strictly decreasing '
                             f'(largest first), got {list(resolutions)}')
        self.resolutions = sizes
        self.predictor_size = _check_size(predictor_size, 'predictor_size')
        if isinstance(tau, bool) or not isinstance(tau, Real) or \
                not math.isfinite(tau) or not tau > 0:
            raise ValueError(f'tau must be a finite number > 0, got {tau!r}')
        self.tau = float(tau)
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not hasattr(self.head, '_get_loss'):
            raise TypeError(
                'model.head must be an mmpretrain ClsHead (its _get_loss '
                f'gives the loss of the chosen logits), got '
                f'{type(self.head).__name__}')
        reason = _vit_reason(self.backbone)
        if reason is not None:
            raise ValueError(reason)
        num = len(sizes)
        for part in (self.backbone, self.neck, self.head):
            if part is not None:
                convert_to_resolution_bn(part, num)

        if isinstance(predictor, dict):
            predictor = dict(predictor)
            predictor.setdefault('num_resolutions', num)
            predictor = MMPRETRAIN_MODELS.build(predictor)
        if not isinstance(predictor, nn.Module):
            raise TypeError(
                'model.predictor must be a config dict, e.g. '
                "dict(type='mmvitplug.ResolutionPredictor'), or a module, "
                f'got {type(predictor).__name__}')
        if getattr(predictor, 'num_resolutions', num) != num:
            raise ValueError(
                f'model.predictor has num_resolutions='
                f'{predictor.num_resolutions}, but there are {num} '
                f'resolutions {sizes}')
        self.predictor = predictor

        if isinstance(flops_loss, dict):
            flops_loss = MMPRETRAIN_MODELS.build(flops_loss)
        if not isinstance(flops_loss, nn.Module):
            raise TypeError(
                'model.flops_loss must be a loss config dict, e.g. '
                "dict(type='mmvitplug.DRNetFLOPsLoss'), got "
                f'{type(flops_loss).__name__}')
        self.flops_loss = flops_loss
        self._flops = {}  # input channels -> FLOPs per resolution

    # ---------------------------------------------------------- helpers
    def _select(self, index: int) -> None:
        for part in (self.backbone, self.neck, self.head):
            if part is not None:
                select_resolution(part, index)

    def predictor_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The predictor's logits (B, m) of images (B, C, H, W), resized to
        ``predictor_size``."""
        logits = self.predictor(resize_to(inputs, self.predictor_size))
        if logits.dim() != 2 or logits.shape != (inputs.size(0),
                                                 len(self.resolutions)):
            raise ValueError(
                'the predictor must give logits (B, m) = '
                f'({inputs.size(0)}, {len(self.resolutions)}), got '
                f'{tuple(logits.shape)}')
        return logits

    def choose(self, inputs: torch.Tensor) -> torch.Tensor:
        """Index (B,) into ``resolutions`` of each image's resolution at
        inference: the arg-max of the predictor's logits."""
        return self.predictor_logits(inputs).argmax(1)

    def classify_at(self, inputs: torch.Tensor, index: int,
                    stage: str = 'neck'):
        """The classifier's features (``stage`` as :meth:`extract_feat`) or
        logits (``stage='logits'``) of the whole batch at resolution
        ``index``, with its BatchNorm."""
        self._select(index)
        x = resize_to(inputs, self.resolutions[index])
        if stage == 'logits':
            return self.head(super().extract_feat(x, 'neck'))
        return super().extract_feat(x, stage)

    @torch.no_grad()
    def candidate_flops(self, inputs: Optional[torch.Tensor] = None,
                        in_channels: int = 3) -> torch.Tensor:
        """FLOPs (multiply-adds, mmengine's ``FlopAnalyzer``) of the
        classifier (backbone, neck, head) on one image at each candidate
        resolution, counted once per number of input channels.

        Args:
            inputs (Tensor, optional): A batch whose channels, device and
                dtype are used. Defaults to None (``in_channels``, CPU).
            in_channels (int): Input channels without ``inputs``.
                Defaults to 3.

        Returns:
            Tensor: (m,) float64, on ``inputs``' device.
        """
        if inputs is not None:
            in_channels = inputs.size(1)
        if in_channels not in self._flops:
            self._flops[in_channels] = torch.tensor(
                [self._count(_ClassifierPath(self), in_channels, r, i)
                 for i, r in enumerate(self.resolutions)],
                dtype=torch.float64)
        flops = self._flops[in_channels]
        return flops if inputs is None else flops.to(inputs.device)

    @torch.no_grad()
    def predictor_flops(self, in_channels: int = 3) -> float:
        """FLOPs of the predictor on one image (at ``predictor_size``)."""
        return self._count(self.predictor, in_channels,
                           self.predictor_size, None)

    def _count(self, module: nn.Module, in_channels: int, size: int,
               index: Optional[int]) -> float:
        from mmengine.analysis import FlopAnalyzer
        param = next(self.parameters())
        x = torch.zeros(1, in_channels, size, size, device=param.device,
                        dtype=param.dtype)
        training = self.training
        self.eval()
        try:
            if index is not None:
                self._select(index)
            analyzer = FlopAnalyzer(module, (x, ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            return float(analyzer.total())
        finally:
            self.train(training)

    # ---------------------------------------------------------- forward
    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck'):
        """Features of each image at its own resolution (per-sample
        dispatch: the batch grouped by the chosen resolution, one run per
        group, the features put back in the batch's order).

        Args:
            inputs (Tensor): Images (B, C, H, W).
            stage (str): ``'neck'`` or ``'pre_logits'`` (``'backbone'``
                maps differ in size between resolutions). Defaults to
                ``'neck'``.

        Returns:
            tuple | Tensor: As :meth:`ImageClassifier.extract_feat`.
        """
        if stage not in ('neck', 'pre_logits'):
            raise ValueError(
                f"DRNetClassifier.extract_feat supports stage='neck' or "
                f"'pre_logits', got {stage!r}: the backbone's maps differ in "
                'size between the resolutions (use classify_at for one '
                'resolution)')
        choice = self.choose(inputs)
        groups, order = [], []
        for index in torch.unique(choice).tolist():
            rows = (choice == index).nonzero()[:, 0]
            groups.append(self.classify_at(inputs[rows], index, stage))
            order.append(rows)
        inverse = torch.empty_like(choice)
        order = torch.cat(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)

        def gather(parts: List[torch.Tensor]) -> torch.Tensor:
            shapes = {tuple(p.shape[1:]) for p in parts}
            if len(shapes) > 1:
                raise ValueError(
                    f'the features at the chosen resolutions differ in shape '
                    f'{sorted(shapes)}: give DRNetClassifier a pooling neck '
                    "(e.g. dict(type='GlobalAveragePooling'))")
            return torch.cat(parts)[inverse]

        if isinstance(groups[0], torch.Tensor):
            return gather(groups)
        return tuple(gather([g[k] for g in groups])
                     for k in range(len(groups[0])))

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """The head's loss of the chosen resolutions' logits and the FLOPs
        constraint.

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).
            data_samples (list[DataSample]): Labels (or mixed scores).

        Returns:
            dict[str, Tensor]: The head's terms (``loss``...),
            ``loss_flops`` and ``flops_ratio`` (logged only).
        """
        decisions = hard_gumbel_softmax(self.predictor_logits(inputs),
                                        self.tau)
        logits = sum(decisions[:, i:i + 1] *
                     self.classify_at(inputs, i, 'logits')
                     for i in range(len(self.resolutions)))
        losses = self.head._get_loss(logits, data_samples)
        flops = self.candidate_flops(inputs)
        extra = call_loss('loss_flops', self.flops_loss,
                          dict(decisions=decisions, flops=flops.float()))
        with torch.no_grad():
            extra['flops_ratio'] = (decisions.float() * flops.float()).sum(
                1).mean() / flops.max().float()
        clash = set(losses) & set(extra)
        if clash:
            raise ValueError(f'the head already returns {sorted(clash)}')
        losses.update(extra)
        return losses
