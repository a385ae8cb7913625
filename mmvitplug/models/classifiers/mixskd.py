# Copyright (c) mmvitplug contributors.
"""MixSKD: a classifier that distils itself from Mixup images."""
import copy
from numbers import Real
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import ModuleList
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..backbones.base import VisionBackbone
from ..losses.mixskd import mix_pairs
from ..losses.utils import call_loss, get_targets


class _VisionStages:
    """Stage-by-stage access to an mmvitplug :class:`VisionBackbone`."""

    def __init__(self, backbone: VisionBackbone):
        if 'featmap' not in backbone.out_types:
            raise ValueError(
                f'MixSKD needs feature maps of the last stage, but '
                f'{type(backbone).__name__} has no featmap output '
                f'(out_types {list(backbone.out_types)})')
        self.backbone = backbone
        self.num_stages = backbone.num_stages
        self.out_indices = tuple(backbone.out_indices)

    def embed(self, x):
        return self.backbone.embed(x)

    def stage(self, index, x, context):
        return self.backbone.forward_stage(index, x, context)

    def output(self, index, x, context):
        return self.backbone.format_output(x, index, context)

    def featmap(self, index, x, context):
        return self.backbone.format_as(x, index, context, 'featmap')

    def drop_front(self, num_stages: int):
        self.backbone.drop_front(num_stages)


class _ResNetStages:
    """Stage-by-stage access to mmpretrain's ``ResNet`` (its V1c / V1d
    variants) and ``ResNet_CIFAR``."""

    def __init__(self, backbone: ResNet):
        self.backbone = backbone
        self.num_stages = len(backbone.res_layers)
        self.out_indices = tuple(backbone.out_indices)

    def embed(self, x):
        bb = self.backbone
        if bb.deep_stem:
            x = bb.stem(x)
        else:
            x = bb.relu(bb.norm1(bb.conv1(x)))
        if not isinstance(bb, ResNet_CIFAR):  # the CIFAR stem has no pool
            x = bb.maxpool(x)
        return x, None

    def stage(self, index, x, context):
        return getattr(self.backbone, self.backbone.res_layers[index])(x), \
            context

    def output(self, index, x, context):
        return x

    featmap = output

    def drop_front(self, num_stages: int):
        bb = self.backbone
        if bb.deep_stem:
            bb.stem = None
        else:
            bb.conv1 = None
            setattr(bb, bb.norm1_name, None)
        for name in bb.res_layers[:num_stages]:
            setattr(bb, name, None)


def _stages(backbone: nn.Module):
    """Stage-by-stage access to a supported backbone."""
    if isinstance(backbone, VisionBackbone):
        return _VisionStages(backbone)
    if isinstance(backbone, ResNet):
        return _ResNetStages(backbone)
    raise TypeError(
        'MixSKD runs the auxiliary branches from intermediate stages, which '
        'it can do for mmvitplug backbones and mmpretrain\'s ResNet '
        '(ResNetV1c / V1d, ResNet_CIFAR); got '
        f'{type(backbone).__name__}')


def _has_pretrained(init_cfg) -> bool:
    """Whether an init_cfg (a dict or a list of them) loads a checkpoint."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(
        isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs)


class MixSKDEnsembleHead(nn.Module):
    """MixSKD's self-teacher head: the paths' last feature maps
    concatenated, a 1x1 convolution (no bias, no norm) back to one path's
    channels, global average pooling and a linear classifier.

    Args:
        in_channels (int): Channels of the concatenated maps.
        channels (int): Channels after the 1x1 convolution.
        num_classes (int): Number of classes.
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.conv(torch.cat(list(maps), dim=1)).mean((2, 3)))


@MODELS.register_module()
class MixSKDClassifier(ImageClassifier):
    """Image classifier trained with `MixSKD
    <https://arxiv.org/abs/2208.05768>`_ (Yang et al., ECCV 2022:
    self-knowledge distillation from Mixup images).

    The network is the classifier (backbone, neck, head) plus, after each
    stage in ``branch_stages``, an auxiliary branch: a fresh copy of the
    backbone's later stages (own weights, the backbone's initialisation)
    ending in global average pooling and a linear classifier; and a
    self-teacher head (:class:`MixSKDEnsembleHead`) on the concatenated
    last feature maps of all paths (branches, then the backbone).

    In training (:meth:`loss`), the preprocessed batch :math:`x` (N
    images) is mixed with itself once, :math:`\\tilde x = \\lambda x +
    (1 - \\lambda) x_\\pi` with :math:`\\lambda \\sim
    \\mathrm{Beta}(\\alpha, \\alpha)` and a random permutation
    :math:`\\pi` (MixSKD mixes the batch itself: ``train_cfg`` must not
    have batch augments), and the network runs once on the ``2N`` images
    ``[x, x~]`` (BatchNorm statistics over both). The last feature maps of
    the clean images are interpolated with their partners' (:func:`
    mix_pairs`) and given to the self-teacher head, as are those of the
    Mixup images; everything goes to ``loss`` (by default
    :class:`mmvitplug.MixSKDLoss`, which holds the maths and the
    discriminators).

    Inference (``predict``, ``mode='tensor'``) is the plain classifier
    (``predict_with='final'``, the paper's deployed network: the branches
    and the self-teacher are training-time only), or the self-teacher head
    on the clean images' paths (``predict_with='ensemble'``). Checkpoints
    hold the branches, the self-teacher and the discriminators beside
    ``backbone`` / ``neck`` / ``head``; the latter load into a plain
    ``ImageClassifier`` (``init_cfg=dict(type='Pretrained', ...)``).

    Args:
        backbone (dict): Backbone config: an mmvitplug backbone with a
            ``featmap`` output, or mmpretrain's ``ResNet`` (V1c, V1d) /
            ``ResNet_CIFAR``. Its ``out_indices`` feed the neck and head as
            in :class:`ImageClassifier`.
        head (dict): Classification head with ``in_channels`` (the channels
            of the last stage's feature maps) and ``num_classes``, without
            a ``loss``, e.g. ``dict(type='LinearClsHead', ...)``.
        branch_stages (Sequence[int], optional): The stages after which an
            auxiliary branch starts, each in ``[0, num_stages - 2]``.
            Defaults to None: every stage but the last (the paper's 3
            branches of a 4-stage ResNet).
        alpha (float): Mixup's Beta parameter, > 0. Defaults to 0.2 (the
            official ImageNet recipe; 0.4 on CIFAR).
        loss (dict | nn.Module): The loss, called with the keyword
            arguments of :meth:`MixSKDLoss.forward`; a dict gets
            ``feat_channels`` (head ``in_channels`` for every path) unless
            it sets them. Defaults to ``dict(type='mmvitplug.MixSKDLoss')``.
        predict_with (str): ``'final'`` or ``'ensemble'``. Defaults to
            'final'.
        neck (dict, optional): Neck, e.g. ``GlobalAveragePooling``.
            Defaults to None.
        train_cfg (dict, optional): As in :class:`ImageClassifier`, without
            ``augments``. Defaults to None.
        data_preprocessor (dict, optional): As in :class:`ImageClassifier`.
            Defaults to None.
        init_cfg (dict, optional): Initialisation. Defaults to None.
    """

    PREDICT_WITH = ('final', 'ensemble')

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 branch_stages: Optional[Sequence[int]] = None,
                 alpha: float = 0.2,
                 loss: Union[dict, nn.Module] = dict(
                     type='mmvitplug.MixSKDLoss'),
                 predict_with: str = 'final',
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(backbone, dict):
            raise TypeError('model.backbone must be a config dict (the '
                            'auxiliary branches are built from it), got '
                            f'{type(backbone).__name__}')
        if not isinstance(head, dict):
            raise TypeError(
                f'model.head must be a config dict, got {type(head).__name__}')
        if 'loss' in head:
            raise ValueError(
                'model.head.loss is not used by MixSKDClassifier: its loss is '
                "model.loss (default dict(type='mmvitplug.MixSKDLoss')); "
                'remove model.head.loss')
        channels = head.get('in_channels')
        if isinstance(channels, bool) or not isinstance(channels, int):
            raise ValueError(
                'model.head.in_channels must give the channels of the last '
                f'stage\'s feature maps, got {channels!r}')
        if (train_cfg or {}).get('augments'):
            raise ValueError(
                'MixSKDClassifier mixes each batch itself (model.alpha): '
                'remove model.train_cfg.augments')
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or \
                not alpha > 0:
            raise ValueError(f'model.alpha (Mixup\'s Beta parameter) must '
                             f'be a number > 0, got {alpha!r}')
        if predict_with not in self.PREDICT_WITH:
            raise ValueError(
                f'Unknown predict_with {predict_with!r}; choose from '
                f'{", ".join(map(repr, self.PREDICT_WITH))}')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.alpha = float(alpha)
        self.predict_with = predict_with
        stages = _stages(self.backbone)
        self.num_stages = stages.num_stages
        self.branch_stages = self._parse_branch_stages(branch_stages)

        branch_cfg = copy.deepcopy(backbone)
        branch_cfg['frozen_stages'] = -1
        if _has_pretrained(branch_cfg.get('init_cfg')):
            branch_cfg.pop('init_cfg')  # new branches: the default init
        channels, num_classes = head['in_channels'], self.head.num_classes
        branches = []
        for k in self.branch_stages:
            branch = MMPRETRAIN_MODELS.build(branch_cfg)
            _stages(branch).drop_front(k + 1)
            branches.append(branch)
        # mmengine's ModuleList: init_weights reaches the branches
        self.branches = ModuleList(branches)
        self.branch_heads = nn.ModuleList(
            nn.Linear(channels, num_classes) for _ in self.branch_stages)
        num_paths = len(self.branch_stages) + 1
        self.ensemble_head = MixSKDEnsembleHead(num_paths * channels,
                                                channels, num_classes)
        if isinstance(loss, dict):
            loss = dict(loss)
            loss.setdefault('feat_channels', [channels] * num_paths)
            loss = MMPRETRAIN_MODELS.build(loss)
        if not isinstance(loss, nn.Module):
            raise TypeError('model.loss must be a loss config dict, e.g. '
                            "dict(type='mmvitplug.MixSKDLoss'), got "
                            f'{type(loss).__name__}')
        paths = getattr(loss, 'num_paths', num_paths)
        if paths != num_paths:
            raise ValueError(
                f'model.loss is built for {paths} paths, but the network has '
                f'{num_paths} ({len(self.branch_stages)} branches and the '
                'final classifier)')
        self.loss_module = loss

    def _parse_branch_stages(self, branch_stages) -> Tuple[int, ...]:
        last = self.num_stages - 1
        if branch_stages is None:
            return tuple(range(last))
        valid = f'ints in [0, {last - 1}] (the backbone has {last + 1} ' \
            'stages; a branch re-runs the stages after its own)'
        if not isinstance(branch_stages, Sequence) or not branch_stages or \
                any(isinstance(s, bool) or not isinstance(s, int)
                    or not 0 <= s < last for s in branch_stages):
            raise ValueError(
                f'model.branch_stages must be distinct {valid}, got '
                f'{branch_stages!r}')
        if len(set(branch_stages)) != len(branch_stages):
            raise ValueError(
                f'model.branch_stages must be distinct {valid}, got '
                f'{branch_stages!r}')
        return tuple(sorted(branch_stages))

    def forward_paths(
            self, inputs: torch.Tensor
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Run every path: the backbone once, each branch from its stage.

        Args:
            inputs (Tensor): Images (B, C, H, W).

        Returns:
            tuple[list[Tensor], list[Tensor]]: Each path's logits (B,
            classes) and last feature maps (B, C, h, w), the branches in
            stage order, then the final classifier (the neck and head on
            the backbone's ``out_indices`` outputs).
        """
        stages = _stages(self.backbone)
        x, context = stages.embed(inputs)
        starts, outs = {}, []
        for i in range(self.num_stages):
            x, context = stages.stage(i, x, context)
            if i in self.branch_stages:
                starts[i] = (x, context)
            if i in stages.out_indices:
                outs.append(stages.output(i, x, context))
        last = self.num_stages - 1
        maps = []
        logits = []
        for k, branch, fc in zip(self.branch_stages, self.branches,
                                 self.branch_heads):
            branch_stages = _stages(branch)
            y, ctx = starts[k]
            for j in range(k + 1, self.num_stages):
                y, ctx = branch_stages.stage(j, y, ctx)
            maps.append(self._check_map(branch_stages.featmap(last, y, ctx)))
            logits.append(fc(maps[-1].mean((2, 3))))
        maps.append(self._check_map(stages.featmap(last, x, context)))
        feats = tuple(outs)
        if self.with_neck:
            feats = self.neck(feats)
        logits.append(self.head(feats))
        return logits, maps

    def _check_map(self, featmap: torch.Tensor) -> torch.Tensor:
        channels = self.ensemble_head.fc.in_features
        if featmap.dim() != 4 or featmap.size(1) != channels:
            raise ValueError(
                f'the last stage gives feature maps of shape '
                f'{tuple(featmap.shape)}, but model.head.in_channels is '
                f'{channels}: set it to their channels')
        return featmap

    def draw_mixup(self, num: int,
                   device: torch.device) -> Tuple[float, torch.Tensor]:
        """One Mixup draw for a batch of ``num`` images: the ratio
        :math:`\\lambda \\sim \\mathrm{Beta}(\\alpha, \\alpha)` (numpy's
        generator, seeded by the runner) and a random permutation (torch's)
        giving each image its partner."""
        lam = float(np.random.beta(self.alpha, self.alpha))
        return lam, torch.randperm(num, device=device)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Mix the batch with itself, run every path on the clean and the
        Mixup images and compute ``loss``.

        Args:
            inputs (Tensor): Preprocessed images (N, C, H, W).
            data_samples (list[DataSample]): Labels.

        Returns:
            dict[str, Tensor]: The loss's terms.
        """
        n = inputs.size(0)
        lam, perm = self.draw_mixup(n, inputs.device)
        mixed = lam * inputs + (1 - lam) * inputs[perm]
        logits, maps = self.forward_paths(torch.cat([inputs, mixed]))
        feats_interp = [mix_pairs(m, lam, perm) for m in maps]
        feats_mixed = [m[n:] for m in maps]
        return call_loss(
            'loss', self.loss_module,
            dict(
                logits=logits,
                feats_interp=feats_interp,
                feats_mixed=feats_mixed,
                ensemble_interp=self.ensemble_head(feats_interp),
                ensemble_mixed=self.ensemble_head(feats_mixed),
                target=get_targets(data_samples),
                lam=lam,
                perm=perm))

    def predict_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The logits used for prediction: the final classifier's or the
        self-teacher head's (``predict_with``)."""
        if self.predict_with == 'final':
            return self(inputs, mode='tensor')
        return self.ensemble_head(self.forward_paths(inputs)[1])

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predictions of :meth:`predict_logits`, as an mmpretrain
        classifier's."""
        return self.head._get_predictions(self.predict_logits(inputs),
                                          data_samples)
