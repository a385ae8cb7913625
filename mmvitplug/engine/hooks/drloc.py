# Copyright (c) mmvitplug contributors.
"""The weight schedule of the dense relative localisation (DRLoc) loss."""
from typing import List, Optional

from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmvitplug.registry import HOOKS


def drloc_weight_factor(epoch: int,
                        warmup_epochs: int,
                        total_epochs: int) -> float:
    """Factor in [0, 1] of the DRLoc weight at an epoch: the official
    ``_weight_decay(1, epoch, warmup_epochs, total_epochs)``.

    ``epoch / warmup_epochs`` up to ``warmup_epochs`` (0 at epoch 0, 1 at
    ``warmup_epochs``), then linear decay ``1 - (epoch - warmup_epochs) /
    (total_epochs - warmup_epochs)``, 0 at ``total_epochs``; clipped to
    [0, 1]. ``warmup_epochs=0``: no warm-up (the official code divides by
    zero).

    Args:
        epoch (int): Epoch index, 0 for the first.
        warmup_epochs (int): Epochs of the ramp.
        total_epochs (int): Epoch at which the factor reaches 0.

    Returns:
        float: The factor.
    """
    if epoch < 0:
        raise ValueError(f'epoch must be >= 0, got {epoch}')
    if warmup_epochs > 0 and epoch <= warmup_epochs:
        return min(epoch / warmup_epochs, 1.0)
    decay = 1.0 - (epoch - warmup_epochs) / (total_epochs - warmup_epochs)
    return min(max(decay, 0.0), 1.0)


@HOOKS.register_module()
class DRLocWeightHook(Hook):
    """Warm-up then linear decay of the `DRLoc
    <https://arxiv.org/abs/2106.03746>`_ loss weight, per epoch.

    Before each training epoch ``e`` (0-based, as the official loop), every
    :class:`~mmvitplug.models.losses.DRLocLoss` of the model gets
    ``weight_factor = drloc_weight_factor(e, warmup_epochs,
    total_epochs)``, so its weight is ``loss_weight * factor``: a linear
    ramp from 0 (epoch 0) to :math:`\\lambda` (epoch ``warmup_epochs``),
    then a linear decay reaching 0 at epoch ``total_epochs`` (official
    ``main.py: _weight_decay``, ``SSL_WARMUP_EPOCHS`` = 20). The official
    loop stops after epoch 100 (``range(START_EPOCH, 101)``) whatever its
    ``EPOCHS`` (300, which its schedule uses): ``total_epochs`` can
    reproduce that; by default it is the run's ``max_epochs``, so the
    weight decays to 0 at the end of training.

    Args:
        warmup_epochs (int): Epochs of the ramp. Defaults to 20 (official).
        total_epochs (int, optional): Epoch at which the weight reaches 0.
            Defaults to None: the train loop's ``max_epochs``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_epochs: int = 20,
                 total_epochs: Optional[int] = None):
        if warmup_epochs < 0:
            raise ValueError(
                f'warmup_epochs must be >= 0, got {warmup_epochs}')
        if total_epochs is not None and total_epochs <= warmup_epochs:
            raise ValueError(
                f'total_epochs ({total_epochs}) must be greater than '
                f'warmup_epochs ({warmup_epochs})')
        self.warmup_epochs = warmup_epochs
        self.total_epochs = total_epochs

    @staticmethod
    def drloc_losses(model) -> List:
        """The DRLoc losses of a (possibly wrapped) model."""
        from mmvitplug.models.losses.drloc import DRLocLoss
        return [
            m for m in get_ori_model(model).modules()
            if isinstance(m, DRLocLoss)
        ]

    def before_train(self, runner):
        """Check that there is something to schedule."""
        if not self.drloc_losses(runner.model):
            raise RuntimeError(
                'DRLocWeightHook found no DRLocLoss in the model: use '
                "model=dict(type='mmvitplug.DRLocClassifier', drloc_head="
                '...) or remove the hook')
        total = self.total_epochs or runner.max_epochs
        if total <= self.warmup_epochs:
            raise ValueError(
                f'DRLocWeightHook: warmup_epochs ({self.warmup_epochs}) '
                f'must be less than total_epochs ({total}, the '
                "train loop's max_epochs unless set)")

    def before_train_epoch(self, runner):
        """Set the factor of the epoch about to run."""
        total = self.total_epochs or runner.max_epochs
        factor = drloc_weight_factor(runner.epoch, self.warmup_epochs,
                                     total)
        for loss in self.drloc_losses(runner.model):
            loss.weight_factor = factor
