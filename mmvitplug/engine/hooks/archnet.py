# Copyright (c) mmvitplug contributors.
"""Arch-Net's periods: one more distilled output per period."""
from typing import Sequence

from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmvitplug.registry import HOOKS


def period_of(iteration: int, periods: Sequence[int]) -> int:
    """The period holding ``iteration`` (0-based) among consecutive periods
    of ``periods`` iterations (the last one after their end)."""
    end = 0
    for index, length in enumerate(periods):
        end += length
        if iteration < end:
            return index
    return len(periods) - 1


@HOOKS.register_module()
class ArchNetPeriodHook(Hook):
    """Run the periods of `Arch-Net <https://arxiv.org/abs/2111.01135>`_'s
    progressive distillation.

    Before every training iteration the model's
    :class:`mmvitplug.ArchNetLoss` (period ``p`` trains the outputs
    ``0..p``) or :class:`mmvitplug.ArchNetViTLoss` (the stem, one block per
    period, then the whole network) gets the period of the runner's
    iteration; when a period
    begins, the optimizer's state (Adam's moments and step counts) is
    cleared, as the official code builds a new optimizer for every period.
    The learning rate restarts with each period through the config's
    ``param_scheduler`` (one ``CosineRestartLR`` per period, from its first
    to its last iteration); everything else (weights, BN statistics)
    carries over. The period is computed from the runner's position, so
    resuming restores it; it is logged as ``archnet_period``. The official
    ResNet-18 recipe has 26 periods of 60, 10 (24 times) and 5110 "epochs"
    of 32 iterations::

        _periods = [60] + [10] * 24 + [5110]
        custom_hooks = [dict(type='mmvitplug.ArchNetPeriodHook',
                             periods=[32 * p for p in _periods])]

    Args:
        periods (Sequence[int]): Iterations of each period, as many as the
            loss has periods (``num_periods``); they add up to the training's
            ``max_iters``.
        reset_optimizer (bool): Clear the optimizer state when a period
            begins. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, periods: Sequence[int], reset_optimizer: bool = True):
        if not isinstance(periods, (list, tuple)) or not periods or any(
                isinstance(p, bool) or not isinstance(p, int) or p < 1
                for p in periods):
            raise ValueError('periods must be a non-empty list of positive '
                             f'iteration counts, got {periods!r}')
        self.periods = list(periods)
        self.reset_optimizer = bool(reset_optimizer)
        #: First iteration of each period.
        self.starts = [sum(self.periods[:i]) for i in range(len(periods))]
        self._target = None  # the model's ArchNetLoss, found before training

    def _loss(self, runner):
        from mmvitplug.models.losses import ArchNetPeriodLoss
        model = get_ori_model(runner.model)
        found = [
            m for m in model.modules() if isinstance(m, ArchNetPeriodLoss)
        ]
        if len(found) != 1:
            raise ValueError(
                'ArchNetPeriodHook needs a model with exactly one Arch-Net '
                'loss (ArchNetLoss or ArchNetViTLoss, in its distiller), '
                f'{type(model).__name__} has {len(found)}')
        return found[0]

    def before_train(self, runner) -> None:
        loss = self._target = self._loss(runner)
        if len(self.periods) != loss.num_periods:
            raise ValueError(
                f'ArchNetPeriodHook has {len(self.periods)} periods but the '
                f'{type(loss).__name__} has {loss.num_periods} '
                f'({loss.extra_repr()}): give one length per period')
        if sum(self.periods) != runner.max_iters:
            raise ValueError(
                f'ArchNetPeriodHook: the periods add up to '
                f'{sum(self.periods)} iterations, the training has '
                f'{runner.max_iters} (train_cfg); make them equal')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        period = period_of(runner.iter, self.periods)
        if self._target is None:
            self._target = self._loss(runner)
        self._target.set_period(period)
        runner.message_hub.update_scalar('train/archnet_period', period)
        if self.reset_optimizer and period > 0 and \
                runner.iter == self.starts[period]:
            runner.optim_wrapper.optimizer.state.clear()
