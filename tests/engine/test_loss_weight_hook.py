# Copyright (c) mmvitplug contributors.
"""LossWeightScheduleHook: the weight of one distiller loss, by position."""
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmengine.logging import MessageHub

from mmvitplug.engine.hooks import LossWeightScheduleHook
from mmvitplug.models.losses import HintLoss, KLDivergenceLoss
from mmvitplug.registry import HOOKS


def runner(loss_weight=10., max_epochs=10, max_iters=100):
    distiller = nn.Module()
    distiller.losses = nn.ModuleDict(
        dict(loss_hint=HintLoss(loss_weight=loss_weight),
             loss_kd=KLDivergenceLoss()))
    model = nn.Module()
    model.distiller = distiller
    return SimpleNamespace(
        model=model, epoch=0, iter=0, max_epochs=max_epochs,
        max_iters=max_iters,
        message_hub=MessageHub.get_instance('test_loss_weight_hook'))


def weights(hook, run, steps, by_epoch=True):
    hook.before_train(run)
    out = []
    for t in steps:
        if by_epoch:
            run.epoch = t
        else:
            run.iter = t
        hook.before_train_iter(run, 0)
        out.append(run.model.distiller.losses['loss_hint'].loss_weight)
    return out


def test_decay_to_zero_over_training():
    """Bootstrapping ViTs' hint: w * (1 - epoch / epochs)."""
    run = runner()
    hook = HOOKS.build(dict(type='mmvitplug.LossWeightScheduleHook',
                            loss='loss_hint'))
    got = weights(hook, run, range(10))
    assert got == pytest.approx([10. * (1 - e / 10) for e in range(10)])
    assert run.message_hub.get_scalar(
        'train/loss_hint_weight').current() == pytest.approx(1.)


def test_warm_up_by_iteration_then_constant():
    run = runner(loss_weight=0.5)
    hook = LossWeightScheduleHook(
        'loss_hint', start_factor=0.01, end_factor=1., begin=10, end=50,
        by_epoch=False)
    got = weights(hook, run, [0, 10, 30, 50, 99], by_epoch=False)
    assert got == pytest.approx([0.005, 0.005, 0.5 * 0.505, 0.5, 0.5])


def test_resume_restores_the_weight():
    """The weight depends on the position only: a fresh hook at epoch 4
    gives what the first one gave there."""
    first = weights(LossWeightScheduleHook('loss_hint'), runner(), [4])
    again = weights(LossWeightScheduleHook('loss_hint'), runner(), [4])
    assert first == again == [pytest.approx(6.)]


def test_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"no distiller loss 'loss_x'.*"
                       r"\['loss_hint', 'loss_kd'\]"):
        LossWeightScheduleHook('loss_x').before_train(runner())
    with pytest.raises(ValueError, match='end must be an int > begin'):
        LossWeightScheduleHook('loss_hint', begin=5, end=5)
    with pytest.raises(ValueError, match='begin must be an int >= 0'):
        LossWeightScheduleHook('loss_hint', begin=-1)
    run = runner(max_epochs=3)
    hook = LossWeightScheduleHook('loss_hint', begin=3)
    hook.before_train(run)
    with pytest.raises(ValueError, match='would end at 3'):
        hook.before_train_iter(run, 0)
    run = runner()
    run.model.distiller.losses['loss_hint'] = nn.Identity()
    with pytest.raises(TypeError, match='no loss_weight'):
        LossWeightScheduleHook('loss_hint').before_train(run)
