# Copyright (c) mmvitplug contributors.
"""UP-ReID: unsupervised pretraining for person re-identification with
intra-identity regularisation (Yang et al., CVPR 2022)."""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS


@MODELS.register_module()
class UPReID(BaseSelfSupervisor):
    """UP-ReID contrastive pretraining of any backbone's patch map.

    `Unleashing Potential of Unsupervised Pre-Training with Intra-Identity
    Regularization for Person Re-Identification
    <https://arxiv.org/abs/2112.00317>`_. No official code exists: this is
    a re-implementation from the paper's description (what was inferred is
    listed in :class:`mmvitplug.models.losses.UPReIDLoss`).

    Each sample brings three views (``MultiView`` with
    ``num_views=[1, 2]``): ``inputs[0]`` the *original* image (resized and
    normalised only), ``inputs[1]``, ``inputs[2]`` two augmented views. The
    backbone gives a patch map (``out_type='featmap'``: any plugin ViT, or
    a pyramid's last stage; its last output is used). The global feature is
    the map's spatial average, projected by ``neck``; the local features
    are ``num_stripes`` horizontal stripes of the map (average-pooled
    bands of rows), projected by ``local_neck``. A momentum copy of
    backbone + necks (``momentum`` is the weight of the new parameters, as
    in mmpretrain's ``MoCo``: MoCo v2's 0.999 is 0.001) encodes the keys,
    batch-shuffled across processes as MoCo does for BatchNorm. The loss
    (``UPReIDLoss``) holds the maths and the queue.

    Args:
        backbone (dict): Backbone config; must output NCHW maps
            (``out_type='featmap'``).
        neck (dict): Projection of the pooled (B, C) global feature, called
            as mmpretrain necks are (a tuple in, a tuple out), e.g.
            ``MoCoV2Neck`` with ``with_avg_pool=False``.
        loss (dict): Config of the loss. Defaults to
            ``dict(type='mmvitplug.UPReIDLoss')``.
        local_neck (dict, optional): Projection of each stripe's (B * P, C)
            feature. None shares ``neck``. Defaults to None.
        num_stripes (int): Horizontal stripes P of the patch map (at most
            its height). Defaults to 4.
        momentum (float): Weight of the online parameters in the momentum
            encoder's update. Defaults to 0.001.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    #: state-dict prefix of the backbone to export
    pretrained_backbone = 'backbone'

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='mmvitplug.UPReIDLoss'),
                 local_neck: Optional[dict] = None,
                 num_stripes: int = 4,
                 momentum: float = 0.001,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if num_stripes < 1:
            raise ValueError(f'UPReID: num_stripes must be >= 1, got '
                             f'{num_stripes}')
        if not 0 < momentum <= 1:
            raise ValueError('UPReID: momentum (weight of the new '
                             f'parameters) must be in (0, 1], got {momentum}')
        self.local_neck = (
            MMPRETRAIN_MODELS.build(local_neck)
            if local_neck is not None else None)
        self.loss_module = MMPRETRAIN_MODELS.build(loss)
        self.num_stripes = num_stripes
        self.encoder_k = ExponentialMovingAverage(self._online(), momentum)

    def _online(self) -> nn.ModuleDict:
        """The online encoder's modules, as the momentum copy mirrors them.
        """
        modules = dict(backbone=self.backbone, neck=self.neck)
        if self.local_neck is not None:
            modules['local_neck'] = self.local_neck
        return nn.ModuleDict(modules)

    def _featmap(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        feats = backbone(x)
        fmap = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if not (isinstance(fmap, torch.Tensor) and fmap.dim() == 4):
            shape = tuple(fmap.shape) if isinstance(
                fmap, torch.Tensor) else type(fmap).__name__
            raise ValueError(
                'UPReID needs patch maps (B, C, H, W) from the backbone: set '
                f"out_type='featmap' in its config; got {shape}")
        if fmap.size(2) < self.num_stripes:
            raise ValueError(
                f'UPReID: the patch map has {fmap.size(2)} rows, fewer than '
                f'num_stripes={self.num_stripes}; lower num_stripes or use '
                'a finer patch grid')
        return fmap

    def _encode(self, modules, x: torch.Tensor, local: bool = True):
        """Normalised global (B, D) and stripe (B, P, D') embeddings."""
        fmap = self._featmap(modules['backbone'], x)
        neck = modules['neck']
        glob = F.normalize(neck((fmap.mean(dim=(2, 3)), ))[0], dim=-1)
        if not local:
            return glob, None
        b, c = fmap.shape[:2]
        stripes = F.adaptive_avg_pool2d(fmap, (self.num_stripes, 1))
        stripes = stripes.flatten(2).transpose(1, 2).reshape(-1, c)
        local_neck = modules['local_neck'] if 'local_neck' in modules \
            else neck
        loc = local_neck((stripes, ))[0].view(b, self.num_stripes, -1)
        return glob, F.normalize(loc, dim=-1)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """The three UP-ReID terms for ``[original, view1, view2]``."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 3:
            raise ValueError(
                'UPReID takes three views per sample, [original, augmented, '
                "augmented] (MultiView with num_views=[1, 2]); got "
                f'{len(inputs) if isinstance(inputs, (list, tuple)) else 1}')
        orig, view1, view2 = inputs
        online = self._online()
        q1, l1 = self._encode(online, view1)
        q2, l2 = self._encode(online, view2)
        with torch.no_grad():
            self.encoder_k.update_parameters(online)
            momentum = self.encoder_k.module
            n = view1.size(0)
            # one shuffle for the three views (BN statistics across views)
            batch, idx_unshuffle = batch_shuffle_ddp(
                torch.cat([view1, view2, orig]).view(3, n, *view1.shape[1:])
                .transpose(0, 1).contiguous())
            v1, v2, o = batch.transpose(0, 1)
            k1, m1 = self._encode(momentum, v1)
            k2, m2 = self._encode(momentum, v2)
            ko, _ = self._encode(momentum, o, local=False)
            k1, k2, ko, m1, m2 = (
                batch_unshuffle_ddp(t, idx_unshuffle)
                for t in (k1, k2, ko, m1, m2))
        losses = self.loss_module(
            q=torch.stack([q1, q2]),
            k=torch.stack([k1, k2]),
            k_orig=ko,
            q_local=torch.stack([l1, l2]),
            k_local=torch.stack([m1, m2]))
        # both views' keys join the queue (2 N per process and step)
        self.loss_module.enqueue(torch.cat([k1, k2]))
        return losses
