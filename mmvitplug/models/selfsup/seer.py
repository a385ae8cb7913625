# Copyright (c) mmvitplug contributors.
"""SEER: SwAV pretraining of RegNetY trunks."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import SwAV

from mmvitplug.registry import MODELS


@MODELS.register_module()
class SEER(SwAV):
    """SEER: SwAV on a RegNetY (or any backbone of the contract).

    `Goyal et al. 2021, "Self-supervised Pretraining of Visual Features in
    the Wild" <https://arxiv.org/abs/2103.01988>`_ trains mmpretrain's
    ``SwAV`` algorithm unchanged (`SwAV <https://arxiv.org/abs/2006.09882>`_:
    the crops of each resolution go through the backbone together, the neck
    embeds them, the head's loss predicts the codes of crops
    ``crops_for_assign`` from the other crops) at scale: RegNetY trunks
    (:class:`mmvitplug.models.backbones.RegNetY`, ``regnety-320`` ...
    ``regnety-10b``), a 3-layer MLP projection without BN
    (:class:`mmvitplug.models.heads.SEERNeck`), 16k prototypes and 10
    Sinkhorn iterations (:class:`mmvitplug.models.losses.SEERLoss`, whose
    Sinkhorn-Knopp normalises over the global batch under DDP), 2x224 +
    4x96 crops. This class only names the algorithm in our scope and
    declares where its backbone is for
    ``tools/model_converters/export_backbone.py`` and logs the loss's
    no-collapse statistics; the queue and the prototype freezing are
    mmpretrain's ``SwAVHook``.

    Args: as mmpretrain's ``SwAV`` (``backbone``, ``neck``, ``head``,
        ``pretrained``, ``data_preprocessor``, ``init_cfg``); the neck and
        the head are required.
    """
    #: state-dict prefix of the backbone to export (export_backbone.py)
    pretrained_backbone = 'backbone'

    def __init__(self, backbone: dict, neck: dict, head: dict, **kwargs):
        if neck is None or head is None:
            raise ValueError('SEER needs a neck (e.g. mmvitplug.SEERNeck) '
                             'and a head (SwAVHead with a loss such as '
                             'mmvitplug.SEERLoss)')
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)

    def loss(self, inputs: List[torch.Tensor], data_samples: list,
             **kwargs) -> Dict[str, torch.Tensor]:
        """SwAV's loss, plus the loss module's no-collapse statistics
        (``stats``, e.g. :class:`mmvitplug.SEERLoss`'s ``prototypes_used``
        and ``code_entropy``), logged with it."""
        losses = super().loss(inputs, data_samples, **kwargs)
        losses.update(getattr(self.head.loss_module, 'stats', {}))
        return losses
