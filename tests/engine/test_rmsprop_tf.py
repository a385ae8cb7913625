# Copyright (c) mmvitplug contributors.
"""mmvitplug.RMSpropTF: TensorFlow-style RMSprop (GhostNetV2's ``--opt
rmsproptf``), step for step equal to timm's ``RMSpropTF``."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from timm.optim import RMSpropTF as TimmRMSpropTF

from mmvitplug.engine import RMSpropTF


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5))


def _loss(model, step):
    torch.manual_seed(100 + step)  # the same batch for both models
    x, y = torch.randn(8, 3, 6, 6), torch.randint(0, 5, (8, ))
    return torch.nn.functional.cross_entropy(model(x), y)


def _run(model, optimizer, steps, lrs=None):
    for step in range(steps):
        if lrs is not None:  # a schedule changing the lr between steps
            for group in optimizer.param_groups:
                group['lr'] = lrs[step]
        optimizer.zero_grad()
        _loss(model, step).backward()
        optimizer.step()


def _assert_same(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize('kwargs', [
    dict(),
    # GhostNetV2's: --opt rmsproptf --opt-eps .001 (alpha 0.9, momentum
    # 0.9 of timm's optimizer factory), weight decay 1e-5
    dict(lr=0.064, alpha=0.9, eps=1e-3, momentum=0.9, weight_decay=1e-5),
    dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.5),
    dict(lr=0.01, momentum=0.9, lr_in_momentum=False),
    dict(lr=0.01, eps=1e-3, centered=True, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, weight_decay=0.1, decoupled_decay=True, momentum=0.9),
    dict(lr=0.01, weight_decay=0.1, decoupled_decay=True),
])
def test_matches_timm(kwargs):
    ours, ref = _model(), _model()
    _run(ours, RMSpropTF(ours.parameters(), **kwargs), 6)
    _run(ref, TimmRMSpropTF(ref.parameters(), **kwargs), 6)
    _assert_same(ours, ref)
    assert not torch.equal(ours[0].weight, _model()[0].weight)  # it moved


@pytest.mark.parametrize('lr_in_momentum', [True, False])
def test_matches_timm_when_the_lr_changes(lr_in_momentum):
    """With the lr in the momentum buffer a new lr acts on new gradients
    only; without it, on the whole buffer: both as timm."""
    lrs = [1e-3, 5e-3, 2e-2, 2e-2, 1e-2, 1e-3, 1e-4, 1e-4]
    kwargs = dict(
        momentum=0.9, eps=1e-3, lr_in_momentum=lr_in_momentum)
    ours, ref = _model(), _model()
    _run(ours, RMSpropTF(ours.parameters(), **kwargs), 8, lrs)
    _run(ref, TimmRMSpropTF(ref.parameters(), **kwargs), 8, lrs)
    _assert_same(ours, ref)
    # the two conventions differ once the lr has changed
    other = _model()
    _run(other,
         RMSpropTF(
             other.parameters(),
             **dict(kwargs, lr_in_momentum=not lr_in_momentum)), 8, lrs)
    assert not torch.allclose(other[0].weight, ours[0].weight)


def test_matches_timm_with_param_groups():
    """Groups with their own decay and lr (no decay on 1-D parameters)."""

    def groups(model):
        flat = [p for p in model.parameters() if p.ndim == 1]
        rest = [p for p in model.parameters() if p.ndim > 1]
        return [
            dict(params=rest, weight_decay=1e-2),
            dict(params=flat, weight_decay=0., lr=0.02),
        ]

    kwargs = dict(lr=0.05, eps=1e-3, momentum=0.9)
    ours, ref = _model(), _model()
    _run(ours, RMSpropTF(groups(ours), **kwargs), 5)
    _run(ref, TimmRMSpropTF(groups(ref), **kwargs), 5)
    _assert_same(ours, ref)


def test_first_step_by_hand():
    """v starts at 1 and eps sits under the root: the first step of a
    gradient g is lr * g / sqrt(1 + 0.1 * (g^2 - 1) + eps)."""
    p = torch.nn.Parameter(torch.tensor([1., -2., 0.5]))
    p.grad = torch.tensor([0.5, -3., 0.])
    opt = RMSpropTF([p], lr=0.1, alpha=0.9, eps=1e-3, momentum=0.9)
    opt.step()
    g = torch.tensor([0.5, -3., 0.])
    v = 1 + 0.1 * (g * g - 1)
    expected = torch.tensor([1., -2., 0.5]) - 0.1 * g / (v + 1e-3).sqrt()
    torch.testing.assert_close(p.detach(), expected)
    torch.testing.assert_close(opt.state[p]['square_avg'], v)
    torch.testing.assert_close(opt.state[p]['momentum_buffer'],
                               0.1 * g / (v + 1e-3).sqrt())
    assert opt.state[p]['step'] == 1


def test_resume_from_state_dict():
    """A run resumed from the optimizer's state dict continues exactly."""
    kwargs = dict(lr=0.05, eps=1e-3, momentum=0.9, centered=True)
    straight = _model()
    _run(straight, RMSpropTF(straight.parameters(), **kwargs), 6)

    first = _model()
    opt = RMSpropTF(first.parameters(), **kwargs)
    _run(first, opt, 3)
    resumed = copy.deepcopy(first)
    opt2 = RMSpropTF(resumed.parameters(), **kwargs)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for step in range(3, 6):
        opt2.zero_grad()
        _loss(resumed, step).backward()
        opt2.step()
    for p, q in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(p, q)


def test_closure_and_missing_grads():
    model = _model()
    opt = RMSpropTF(model.parameters(), lr=0.01)
    frozen = model[4].weight.detach().clone()
    model[4].weight.requires_grad_(False)

    def closure():
        opt.zero_grad()
        loss = _loss(model, 0)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert torch.is_tensor(loss) and loss.ndim == 0
    torch.testing.assert_close(model[4].weight, frozen)  # no grad: kept
    assert model[4].weight not in opt.state


@pytest.mark.parametrize('kwargs,message', [
    (dict(lr=-1.), 'lr'),
    (dict(eps=-1e-3), 'eps'),
    (dict(momentum=-0.9), 'momentum'),
    (dict(weight_decay=-1e-5), 'weight_decay'),
    (dict(alpha=1.5), 'alpha'),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RMSpropTF(_model().parameters(), **kwargs)


def test_sparse_gradients_are_refused():
    emb = torch.nn.Embedding(4, 3, sparse=True)
    emb(torch.tensor([0, 2])).sum().backward()
    with pytest.raises(RuntimeError, match='sparse'):
        RMSpropTF(emb.parameters()).step()


def test_built_from_a_config():
    """As a config names it: the mmvitplug scope from an mmpretrain config,
    with mmengine's per-parameter weight decay rules."""
    init_default_scope('mmpretrain')
    model = _model()
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(
                type='mmvitplug.RMSpropTF',
                lr=0.064,
                alpha=0.9,
                eps=1e-3,
                momentum=0.9,
                weight_decay=1e-5),
            paramwise_cfg=dict(flat_decay_mult=0.0)))
    opt = wrapper.optimizer
    assert isinstance(opt, RMSpropTF)
    decays = {
        tuple(p.shape): g['weight_decay']
        for g in opt.param_groups for p in g['params']
    }
    assert decays[(4, 3, 3, 3)] == 1e-5 and decays[(5, 64)] == 1e-5
    assert decays[(4, )] == 0. and decays[(5, )] == 0.
    assert all(g['eps'] == 1e-3 and g['alpha'] == 0.9
               for g in opt.param_groups)
    before = model[0].weight.detach().clone()
    wrapper.update_params(_loss(model, 0))
    assert not torch.equal(before, model[0].weight)
