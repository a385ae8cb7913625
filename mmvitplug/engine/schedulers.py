# Copyright (c) mmvitplug contributors.
"""Learning-rate schedules that mmengine does not have."""
import math
from typing import List, Optional, Sequence, Union

from mmengine.optim import BaseOptimWrapper
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler
from torch.optim import Optimizer

from mmvitplug.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class PeriodicCosineRestartLR(LRSchedulerMixin, _ParamScheduler):
    """Cosine annealing with warm restarts, started afresh at the start of
    every period: in each period, PyTorch's ``CosineAnnealingWarmRestarts(
    T_0=first_cycle, T_mult=cycle_mult, eta_min)`` as if it were created
    there, cut where the period ends.

    At step ``t`` of a period (0 at its start) in cycle ``c`` (of length
    ``T_c = first_cycle * cycle_mult ** c``, begun at step ``s_c``)::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi (t - s_c) / T_c)) / 2

    Arch-Net (https://arxiv.org/abs/2111.01135) creates a new optimizer and
    a new ``CosineAnnealingWarmRestarts(10, 2)`` every period
    (``train_imagenet/train_archnet_resnet18.py``): one of these schedulers
    is that for all the periods of an :class:`mmvitplug.ArchNetPeriodHook`.

    Args:
        optimizer (Optimizer | BaseOptimWrapper): The optimizer.
        periods (Sequence[int]): Length of each period, in steps; the
            schedule runs from ``begin`` to ``begin + sum(periods)`` and
            leaves the rate unchanged after.
        first_cycle (int): Length ``T_0`` of a period's first cycle.
        cycle_mult (int): Growth ``T_mult`` of each next cycle (>= 1).
            Defaults to 2.
        eta_min (float): Lowest rate. Defaults to 0.
        begin (int): Step at which the first period starts. Defaults to 0.
        end (int, optional): Step at which updates stop (the runner sets it
            to the end of training); the rate stays unchanged after the
            periods anyway. Defaults to None: ``begin + sum(periods)``.
        last_step (int): The index of the last step (to resume without a
            state dict). Defaults to -1.
        by_epoch (bool): Steps are epochs (True) or iterations (False), as
            mmengine's schedulers. Defaults to True.
        verbose (bool): Print each update. Defaults to False.
    """

    def __init__(self,
                 optimizer: Union[Optimizer, BaseOptimWrapper],
                 periods: Sequence[int],
                 first_cycle: int,
                 cycle_mult: int = 2,
                 eta_min: float = 0.,
                 begin: int = 0,
                 end: Optional[int] = None,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False):
        if not isinstance(periods, (list, tuple)) or not periods or any(
                isinstance(p, bool) or not isinstance(p, int) or p < 1
                for p in periods):
            raise ValueError('periods must be a non-empty list of ints >= 1, '
                             f'got {periods!r}')
        for name, value in (('first_cycle', first_cycle), ('cycle_mult',
                                                           cycle_mult)):
            if isinstance(value, bool) or not isinstance(value,
                                                         int) or value < 1:
                raise ValueError(
                    f'{name} must be an int >= 1, got {value!r}')
        if isinstance(eta_min, bool) or not isinstance(
                eta_min, (int, float)) or eta_min < 0:
            raise ValueError(f'eta_min must be a number >= 0, got {eta_min!r}')
        self.periods = list(periods)
        self.first_cycle, self.cycle_mult = first_cycle, cycle_mult
        self.eta_min = float(eta_min)
        super().__init__(
            optimizer,
            begin=begin,
            end=begin + sum(self.periods) if end is None else end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    def position(self, step: int):
        """(step in its cycle, cycle length) of ``step`` (counted from
        ``begin``)."""
        for length in self.periods:
            if step < length:
                break
            step -= length
        cycle = self.first_cycle
        while step >= cycle:
            step -= cycle
            cycle *= self.cycle_mult
        return step, cycle

    def _get_value(self) -> List[float]:
        if self.last_step >= sum(self.periods):  # after the periods
            return [
                group[self.param_name] for group in self.optimizer.param_groups
            ]
        step, cycle = self.position(self.last_step)
        factor = (1 + math.cos(math.pi * step / cycle)) / 2
        return [
            self.eta_min + (base - self.eta_min) * factor
            for base in self.base_values
        ]
