# Copyright (c) mmvitplug contributors.
"""Heads that put the model-aware contrastive loss (MACL) into mmpretrain's
contrastive algorithms without touching them.

`Model-Aware Contrastive Learning: Towards Escaping the Dilemmas
<https://arxiv.org/abs/2207.07874>`_ (Huang et al., ICML 2023).
"""
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank
from mmengine.model import BaseModule
from mmpretrain.models.heads import MoCoV3Head
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS

_DEFAULT_LOSS = dict(type='mmvitplug.MACLLoss')


def _build_loss(loss: dict):
    if not isinstance(loss, dict) or 'type' not in loss:
        raise TypeError(f'the MACL heads take a loss config dict with a '
                        f"'type' (e.g. {_DEFAULT_LOSS}), got {loss!r}")
    return MMPRETRAIN_MODELS.build(loss)


@MODELS.register_module()
class MACLHead(BaseModule):
    """:class:`~mmpretrain.models.heads.ContrastiveHead` with MACL's loss:
    the same ``loss(pos, neg)``, so mmpretrain's ``MoCo`` (v2), ``SimCLR``
    and every algorithm that calls ``head.loss(pos, neg)`` with similarity
    matrices (DenseCL's global term too) use it from a config alone::

        head=dict(type='mmvitplug.MACLHead',
                  loss=dict(type='mmvitplug.MACLLoss', temperature=0.2,
                            alpha=0.5, a0=0.))

    The temperature lives in the loss (it is adaptive there), so unlike
    ``ContrastiveHead`` this head takes no ``temperature``: a config that
    replaces ``ContrastiveHead`` moves its ``temperature`` into the loss as
    the base temperature :math:`\\tau_0`. mmpretrain's ``MoCoV3`` calls its
    head as ``loss(base_out, momentum_out)``: use :class:`MACLMoCoV3Head`.

    Args:
        loss (dict): Config of the loss that takes ``(pos, neg)``.
            Defaults to ``dict(type='mmvitplug.MACLLoss')``.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 loss: dict = _DEFAULT_LOSS,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.loss_module = _build_loss(loss)

    def loss(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """MACL of the positive (N, 1) and negative (N, K) similarities."""
        return self.loss_module(pos, neg)


@MODELS.register_module()
class MACLMoCoV3Head(MoCoV3Head):
    """:class:`~mmpretrain.models.heads.MoCoV3Head` with MACL's loss, for
    mmpretrain's ``MoCoV3`` unchanged (``head.loss(base_out,
    momentum_out)``).

    As in ``MoCoV3Head``: the predictor maps the base encoder's outputs,
    predictions and momentum outputs are L2-normalised, the momentum outputs
    of all processes are the keys. Query ``i`` of process ``r`` has its
    positive at key ``r * N + i`` and every other key as a negative; these
    cosine similarities go to the MACL loss, which sets the temperature.
    (The official MoCo v3 code multiplies the loss by ``2 * T``; mmpretrain's
    configs put that factor in the loss's ``loss_weight``: set
    ``MACLLoss(loss_weight=2 * tau0)`` likewise.)

    Args:
        predictor (dict): Config of the predictor (a neck).
        loss (dict): Config of the loss that takes ``(pos, neg)``.
            Defaults to ``dict(type='mmvitplug.MACLLoss')``.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 predictor: dict,
                 loss: dict = _DEFAULT_LOSS,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if not isinstance(loss, dict) or 'type' not in loss:
            _build_loss(loss)  # raises the error naming the valid form
        # MoCoV3Head's temperature is unused: MACL's loss has its own
        super().__init__(predictor=predictor, loss=loss)
        if init_cfg is not None:
            self.init_cfg = init_cfg

    def loss(self, base_out: torch.Tensor,
             momentum_out: torch.Tensor) -> torch.Tensor:
        """MACL of predictions (N, C) against momentum outputs (N, C)."""
        pred = F.normalize(self.predictor([base_out])[0], dim=1)
        target = F.normalize(momentum_out, dim=1)
        target = torch.cat(all_gather(target), dim=0)
        sim = pred @ target.t()  # (N, world * N)
        n = sim.size(0)
        cols = torch.arange(n, device=sim.device) + n * get_rank()
        is_pos = torch.zeros_like(sim, dtype=torch.bool)
        is_pos[torch.arange(n, device=sim.device), cols] = True
        pos = sim[is_pos].view(n, 1)
        neg = sim[~is_pos].view(n, -1)
        return self.loss_module(pos, neg)
