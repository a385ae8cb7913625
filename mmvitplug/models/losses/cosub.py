# Copyright (c) mmvitplug contributors.
"""The co-training loss of two stochastic-depth submodels (cosub)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS

MUTUAL_TYPES = ('bce', 'ce')


@MODELS.register_module()
class CoSubLoss(nn.Module):
    r"""Loss of `cosub <https://arxiv.org/abs/2212.04884>`_ (co-training
    :math:`2^L` submodels).

    Two submodels drawn by stochastic depth from the same weights classify
    the same images, giving logits ``s1`` and ``s2``. Each learns the labels
    and is the soft teacher of the other through a stop-gradient
    ``sg(.)``::

        loss_label  = (1 - lam) / 2 * (label(s1, y) + label(s2, y))
        loss_mutual = lam / 2 * (mutual(s1, sg(s2)) + mutual(s2, sg(s1)))

    ``label`` is any mmpretrain classification loss (the targets may be class
    indices ``(N,)`` or the soft scores ``(N, C)`` of Mixup / CutMix batch
    augments; class indices are turned into one-hot scores first, as the
    official code always feeds one-hot or mixed scores, so sigmoid losses
    accept them). ``mutual(s, t)`` is

    - ``'bce'``: binary cross-entropy of ``s`` against the teacher
      probabilities ``sigmoid(t)``, averaged over samples and classes (the
      official code, whose label loss is also this BCE);
    - ``'ce'``: cross-entropy of ``softmax(s)`` against the teacher
      distribution ``softmax(t)``, averaged over samples (for models trained
      with a softmax label loss).

    The teacher never receives a gradient from the term it teaches: its
    logits are detached. With the paper's ``lam=0.5`` the four terms weigh
    0.25 each, as in the official code.

    Args:
        lam (float): Weight of the mutual (co-training) terms, in [0, 1]; the
            label terms get ``1 - lam``. ``0`` trains both submodels on the
            labels only. Defaults to 0.5.
        label_loss (dict): Config of the label loss, built in the mmpretrain
            scope. Defaults to ``dict(type='CrossEntropyLoss',
            use_sigmoid=True)``, binary cross-entropy averaged over samples
            and classes (the official ``BCEWithLogitsLoss``).
        mutual_loss (str): ``'bce'`` or ``'ce'``, see above. Defaults to
            ``'bce'``.
    """

    def __init__(self,
                 lam: float = 0.5,
                 label_loss: dict = dict(
                     type='CrossEntropyLoss', use_sigmoid=True),
                 mutual_loss: str = 'bce'):
        super().__init__()
        if not isinstance(lam, (int, float)) or not 0. <= lam <= 1.:
            raise ValueError(f'lam must be a number in [0, 1], got {lam!r}')
        if mutual_loss not in MUTUAL_TYPES:
            raise ValueError(
                f'Unknown mutual_loss {mutual_loss!r}; choose from '
                f'{", ".join(map(repr, MUTUAL_TYPES))}')
        if not isinstance(label_loss, dict) or 'type' not in label_loss:
            raise TypeError(
                'label_loss must be a loss config dict with a type, e.g. '
                "dict(type='CrossEntropyLoss', use_sigmoid=True), got "
                f'{label_loss!r}')
        self.lam = float(lam)
        self.mutual_loss = mutual_loss
        self.label_loss = MMPRETRAIN_MODELS.build(label_loss)

    def mutual(self, student: torch.Tensor,
               teacher: torch.Tensor) -> torch.Tensor:
        """Soft-target loss of ``student`` logits taught by ``teacher``
        logits; no gradient reaches ``teacher``."""
        teacher = teacher.detach()
        if self.mutual_loss == 'bce':
            return F.binary_cross_entropy_with_logits(student,
                                                      teacher.sigmoid())
        return -(teacher.softmax(dim=1) *
                 student.log_softmax(dim=1)).sum(dim=1).mean()

    def forward(self,
                logits1: torch.Tensor,
                logits2: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the label and mutual terms.

        Args:
            logits1 (Tensor): Logits of the first submodel, (N, C).
            logits2 (Tensor): Logits of the second submodel on the same
                images, (N, C).
            target (Tensor): Labels (N,) or soft target scores (N, C).

        Returns:
            dict[str, Tensor]: ``loss_label`` and ``loss_mutual`` (both
            weighted), logged separately and summed by the runner.
        """
        if kwargs or target is None or logits2.shape != logits1.shape:
            raise TypeError(
                'CoSubLoss takes the logits of two submodels and the '
                'targets, loss(logits1, logits2, target); a plain head calls '
                'it with one set of logits. Train with '
                "model.type='mmvitplug.CoSubClassifier', which runs the two "
                'submodels, and give it this loss as model.loss.')
        if target.dim() == 1:
            target = F.one_hot(target, logits1.size(1)).to(logits1.dtype)
        loss_label = (1. - self.lam) / 2. * (
            self.label_loss(logits1, target) +
            self.label_loss(logits2, target))
        loss_mutual = self.lam / 2. * (
            self.mutual(logits1, logits2) + self.mutual(logits2, logits1))
        return dict(loss_label=loss_label, loss_mutual=loss_mutual)
