# Copyright (c) mmvitplug contributors.
"""LossWeightScheduleHook: the weight of one distiller loss, by position."""
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmengine.logging import MessageHub

from mmvitplug.engine.hooks import LossWeightScheduleHook
from mmvitplug.models.losses import (HintLoss, JSDivergenceLoss,
                                     KLDivergenceLoss)
from mmvitplug.registry import HOOKS


def runner(loss_weight=10., max_epochs=10, max_iters=100, cot=False):
    distiller = nn.Module()
    losses = dict(loss_hint=HintLoss(loss_weight=loss_weight),
                  loss_kd=KLDivergenceLoss())
    if cot:  # Divide and Co-training's JS term, cot_weight 0.5
        losses['loss_cot'] = JSDivergenceLoss(loss_weight=0.5)
    distiller.losses = nn.ModuleDict(losses)
    model = nn.Module()
    model.distiller = distiller
    return SimpleNamespace(
        model=model, epoch=0, iter=0, max_epochs=max_epochs,
        max_iters=max_iters,
        message_hub=MessageHub.get_instance('test_loss_weight_hook'))


def weights(hook, run, steps, by_epoch=True, loss='loss_hint'):
    hook.before_train(run)
    out = []
    for t in steps:
        if by_epoch:
            run.epoch = t
        else:
            run.iter = t
        hook.before_train_iter(run, 0)
        out.append(run.model.distiller.losses[loss].loss_weight)
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


def official_cot_weight(epoch, warm_up_epochs, cot_weight=0.5):
    """Divide and Co-training's co-training weight at (0-based) ``epoch``:
    ``SplitNet._co_training_loss`` of the official code
    (FreeformRobotics/Divide-and-Co-training, model/splitnet.py)."""
    weight_now = cot_weight
    if epoch < warm_up_epochs:
        weight_now = max(cot_weight * epoch / warm_up_epochs, 0.005)
    return weight_now


@pytest.mark.parametrize('warm_up_epochs, max_epochs', [(40, 300),
                                                        (60, 120)])
def test_floor_gives_the_official_co_training_warm_up(warm_up_epochs,
                                                      max_epochs):
    """max(0.5 * epoch / E, 0.005) before epoch E, then 0.5: CIFAR's E = 40
    (parser_params.py), ImageNet's 60 (script/train_split.sh), epoch by
    epoch over the whole training."""
    run = runner(max_epochs=max_epochs, cot=True)
    hook = HOOKS.build(
        dict(type='mmvitplug.LossWeightScheduleHook', loss='loss_cot',
             start_factor=0., end_factor=1., end=warm_up_epochs,
             min_factor=0.01))
    epochs = range(max_epochs)
    got = weights(hook, run, epochs, loss='loss_cot')
    expected = [official_cot_weight(e, warm_up_epochs) for e in epochs]
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert got[0] == pytest.approx(0.005) and got[-1] == 0.5
    # the floor matters: a ramp from 0.01 instead is not the official one
    ramp = weights(
        LossWeightScheduleHook('loss_cot', start_factor=0.01, end_factor=1.,
                               end=warm_up_epochs),
        runner(max_epochs=max_epochs, cot=True), epochs, loss='loss_cot')
    assert ramp != pytest.approx(expected, rel=1e-6)


def test_floor_stops_a_decay():
    """The floor applies at every position (a decay stops at it)."""
    hook = LossWeightScheduleHook('loss_hint', min_factor=0.25)
    got = weights(hook, runner(), range(10))
    assert got == pytest.approx([10. * max(1 - e / 10, 0.25)
                                 for e in range(10)])
    assert LossWeightScheduleHook('loss_hint').min_factor is None


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
