# Copyright (c) mmvitplug contributors.
"""Schedules of `DINO <https://arxiv.org/abs/2104.14294>`_ that are not
parameter schedules: the teacher-temperature warm-up and the frozen last
layer of the first epoch.

The other DINO schedules are mmengine's: the lr warm-up and cosine
(``LinearLR`` + ``CosineAnnealingLR``), the weight-decay cosine 0.04 ->
0.4 (``CosineAnnealingParamScheduler(param_name='weight_decay',
eta_min_ratio=10)``: a group without weight decay has 0 as base and end
value, so only the decayed groups move) and the teacher momentum (the
algorithm's ``CosineEMA``).
"""
from typing import List

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmpretrain.utils import get_ori_model

from mmvitplug.registry import HOOKS


@HOOKS.register_module()
class DINOTeacherTempWarmupHook(Hook):
    """Linear warm-up of DINO's teacher temperature, per epoch.

    Before epoch ``e`` the temperature is the official
    ``np.linspace(warmup_temp, temp, warmup_epochs)[e]`` for
    ``e < warmup_epochs`` (so ``temp`` is reached at epoch
    ``warmup_epochs - 1``), then ``temp``. It is set on every module of the
    model with a ``teacher_temp`` attribute (the
    :class:`~mmvitplug.models.losses.DINOLoss`) and logged as
    ``teacher_temp``. Works with and without a DDP wrapper; resuming sets
    the resumed epoch's value.

    Args:
        warmup_temp (float): Temperature at epoch 0. Defaults to 0.04.
        temp (float): Temperature after the warm-up. Defaults to 0.07 (the
            paper's ViT recipes; the official code's default is 0.04).
        warmup_epochs (int): Warm-up length in epochs; 0 uses ``temp`` from
            the start. Defaults to 30.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_temp: float = 0.04,
                 temp: float = 0.07,
                 warmup_epochs: int = 30):
        if not (warmup_temp > 0 and temp > 0):
            raise ValueError('teacher temperatures must be > 0, got '
                             f'warmup_temp={warmup_temp!r}, temp={temp!r}')
        if not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ValueError('warmup_epochs must be an int >= 0, got '
                             f'{warmup_epochs!r}')
        self.warmup_temp = float(warmup_temp)
        self.temp = float(temp)
        self.warmup_epochs = warmup_epochs

    def temperature(self, epoch: int) -> float:
        """The teacher temperature of epoch ``epoch`` (0-based)."""
        if epoch < self.warmup_epochs:
            return float(
                np.linspace(self.warmup_temp, self.temp,
                            self.warmup_epochs)[epoch])
        return self.temp

    def before_train_epoch(self, runner) -> None:
        model = get_ori_model(runner.model)
        losses = [m for m in model.modules() if hasattr(m, 'teacher_temp')]
        if not losses:
            raise RuntimeError(
                f'DINOTeacherTempWarmupHook: the model '
                f'({type(model).__name__}) has no module with a '
                'teacher_temp attribute (e.g. mmvitplug.DINOLoss)')
        temp = self.temperature(runner.epoch)
        for loss in losses:
            loss.teacher_temp = temp
        runner.message_hub.update_scalar('train/teacher_temp', temp)


@HOOKS.register_module()
class DINOFreezeLastLayerHook(Hook):
    """Keep a module of the model fixed during the first epochs (DINO's
    ``freeze_last_layer``: the head's last layer, for 1 epoch).

    As the official ``cancel_gradients_last_layer``, the module's gradients
    are dropped (set to None) right before each optimizer step of epochs
    ``< epochs``, after they were computed, all-reduced by DDP, unscaled and
    clipped: the optimizer skips the parameters altogether (no update, no
    weight decay, no optimizer state). This runs as a step pre-hook of the
    optimizer, so it works inside mmengine's ``update_params`` with or
    without DDP and AMP (toggling ``requires_grad`` would make DDP wait for
    gradients that never come).

    Args:
        epochs (int): Number of leading epochs with the module fixed.
            Defaults to 1.
        module (str): Path of the module in the model (without a DDP
            wrapper). Defaults to ``'head.last_layer'``.
    """

    priority = 'NORMAL'

    def __init__(self, epochs: int = 1, module: str = 'head.last_layer'):
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f'epochs must be an int >= 0, got {epochs!r}')
        self.epochs = epochs
        self.module = module
        self.frozen = False
        self._params: List[torch.nn.Parameter] = []
        self._handles: list = []

    def _drop_grads(self, optimizer, args, kwargs) -> None:
        if self.frozen:
            for p in self._params:
                p.grad = None

    def before_train(self, runner) -> None:
        model = get_ori_model(runner.model)
        try:
            module = model.get_submodule(self.module)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n][:20]
            raise ValueError(
                f'DINOFreezeLastLayerHook: {type(model).__name__} has no '
                f'module {self.module!r}; modules include {names}') from None
        self._params = list(module.parameters())
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if isinstance(
            wrapper, OptimWrapperDict) else [wrapper]
        self._handles = [
            w.optimizer.register_step_pre_hook(self._drop_grads)
            for w in wrappers
        ]

    def before_train_epoch(self, runner) -> None:
        self.frozen = runner.epoch < self.epochs

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.frozen = False
