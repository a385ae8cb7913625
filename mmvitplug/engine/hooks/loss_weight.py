# Copyright (c) mmvitplug contributors.
"""Schedules of a distillation loss's weight (a decaying hint, a warming-up
co-training term)."""
from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmvitplug.registry import HOOKS


@HOOKS.register_module()
class LossWeightScheduleHook(Hook):
    """Linear schedule of the ``loss_weight`` of one loss of the model's
    distiller.

    Before every training iteration the loss ``model.distiller.losses[loss]``
    gets ``loss_weight = w * f(t)``, with ``w`` its configured weight and::

        f(t) = max(start_factor + (end_factor - start_factor)
                   * clip((t - begin) / (end - begin), 0, 1), min_factor)

    where ``t`` is the epoch (``by_epoch=True``, constant within an epoch)
    or the iteration, and the floor ``min_factor`` is optional. E.g. the
    hint loss of `Bootstrapping ViTs <https://arxiv.org/abs/2112.03552>`_
    decays as ``1 - epoch / epochs`` (``start_factor=1, end_factor=0``); the
    co-training term of `Divide and Co-training
    <https://arxiv.org/abs/2011.14660>`_ (weight ``w = 0.5``) is
    ``max(w * epoch / E, 0.005)`` before epoch ``E`` (40; 60 on ImageNet),
    then ``w``::

        custom_hooks = [
            dict(type='mmvitplug.LossWeightScheduleHook', loss='loss_cot',
                 start_factor=0., end_factor=1., end=60, min_factor=0.01)
        ]

    The weight is computed from the runner's position only, so resuming
    restores it; it is logged as ``<loss>_weight``.

    Args:
        loss (str): Name of the loss in ``model.distiller.losses``; it must
            have a ``loss_weight`` attribute.
        start_factor (float): Factor at ``begin`` and before. Defaults to
            1.0.
        end_factor (float): Factor at ``end`` and after. Defaults to 0.0.
        begin (int): Epoch (or iteration) where the ramp starts. Defaults
            to 0.
        end (int, optional): Epoch (or iteration) where it ends. Defaults
            to None: the end of training.
        by_epoch (bool): Whether ``begin`` / ``end`` count epochs (else
            iterations). Defaults to True.
        min_factor (float, optional): Floor of the factor (applied at every
            position). Defaults to None: no floor.
    """

    priority = 'NORMAL'

    def __init__(self,
                 loss: str,
                 start_factor: float = 1.0,
                 end_factor: float = 0.0,
                 begin: int = 0,
                 end: Optional[int] = None,
                 by_epoch: bool = True,
                 min_factor: Optional[float] = None):
        if not isinstance(loss, str) or not loss:
            raise TypeError(f'loss must be the name of a distiller loss, '
                            f'got {loss!r}')
        if not isinstance(begin, int) or begin < 0:
            raise ValueError(f'begin must be an int >= 0, got {begin!r}')
        if end is not None and (not isinstance(end, int) or end <= begin):
            raise ValueError(f'end must be an int > begin ({begin}), got '
                             f'{end!r}')
        self.loss = loss
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.begin = begin
        self.end = end
        self.by_epoch = by_epoch
        self.min_factor = None if min_factor is None else float(min_factor)
        self._base = None

    def factor(self, t: int, end: int) -> float:
        """The factor at epoch (or iteration) ``t`` of a ramp ending at
        ``end``."""
        progress = min(max((t - self.begin) / (end - self.begin), 0.), 1.)
        factor = self.start_factor + (self.end_factor -
                                      self.start_factor) * progress
        if self.min_factor is not None:
            factor = max(factor, self.min_factor)
        return factor

    def _target(self, runner):
        model = get_ori_model(runner.model)
        losses = getattr(getattr(model, 'distiller', None), 'losses', None)
        if losses is None or self.loss not in losses:
            names = sorted(losses) if losses is not None else []
            raise ValueError(
                f'LossWeightScheduleHook: the model ({type(model).__name__}) '
                f'has no distiller loss {self.loss!r}; its distiller losses '
                f'are {names}')
        loss = losses[self.loss]
        if not hasattr(loss, 'loss_weight'):
            raise TypeError(
                f'LossWeightScheduleHook: {self.loss!r} '
                f'({type(loss).__name__}) has no loss_weight to schedule')
        return loss

    def before_train(self, runner) -> None:
        self._base = float(self._target(runner).loss_weight)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        loss = self._target(runner)
        if self.by_epoch:
            t, end = runner.epoch, self.end or runner.max_epochs
        else:
            t, end = runner.iter, self.end or runner.max_iters
        if end <= self.begin:
            raise ValueError(
                f'LossWeightScheduleHook: the ramp of {self.loss!r} would '
                f'end at {end}, not after its begin {self.begin}')
        loss.loss_weight = self._base * self.factor(t, end)
        runner.message_hub.update_scalar(f'train/{self.loss}_weight',
                                         loss.loss_weight)
