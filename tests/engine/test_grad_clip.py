# Copyright (c) mmvitplug contributors.
"""Extra gradient-clipping modes: adaptive (timm's ``agc``, LeViT's
training) and per-parameter norm (DINO), in every wrapper."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import OPTIM_WRAPPERS
from timm.utils.agc import adaptive_clip_grad

from mmvitplug.engine.optimizers import (adaptive_clip_grad_,
                                         clip_grad_norm_per_param_)
from mmvitplug.utils.config import enable_amp


def _model_with_grads(seed=0, grad_scale=1.):
    """A small model with weights of mixed scale (a zero bias included) and
    gradients of which some units exceed any small clip factor."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 5))
    with torch.no_grad():
        model[0].bias.zero_()
        model[3].weight[:2] *= 50  # rows of very different norms
    model(torch.randn(2, 3, 6, 6)).square().sum().mul(grad_scale).backward()
    return model


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize('clip_factor,eps', [(0.01, 1e-3), (0.2, 1e-1)])
def test_agc_equals_timm(clip_factor, eps):
    ours, ref = _model_with_grads(), _model_with_grads()
    before = _grads(ours)
    adaptive_clip_grad_(ours.parameters(), clip_factor, eps)
    adaptive_clip_grad(ref.parameters(), clip_factor, eps)
    after = _grads(ours)
    for a, b in zip(after, _grads(ref)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)
    # it did clip something and left something alone
    changed = [not torch.equal(a, b) for a, b in zip(after, before)]
    assert any(changed)


def test_agc_is_unitwise_by_hand():
    w = torch.nn.Parameter(torch.tensor([[3., 4.], [0., 0.]]))
    w.grad = torch.tensor([[0.3, 0.4], [1., 0.]])
    b = torch.nn.Parameter(torch.tensor([1., 0.]))
    b.grad = torch.tensor([0.001, 0.])
    adaptive_clip_grad_([w, b], clip_factor=0.02, eps=1e-3)
    # row 0: |w| = 5, max 0.1, |g| = 0.5 -> scaled to norm 0.1
    torch.testing.assert_close(w.grad[0], torch.tensor([0.06, 0.08]))
    # row 1: |w| = 0 -> eps, max 2e-5, |g| = 1 -> norm 2e-5
    torch.testing.assert_close(w.grad[1], torch.tensor([2e-5, 0.]))
    # the bias is one unit: |b| = 1, max 0.02 > |g|: unchanged
    torch.testing.assert_close(b.grad, torch.tensor([0.001, 0.]))


def test_param_norm_clips_each_parameter_by_hand():
    a = torch.nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([6., 8.])  # norm 10 > 3: scaled
    b = torch.nn.Parameter(torch.zeros(2))
    b.grad = torch.tensor([1., 2.])  # norm < 3: kept
    clip_grad_norm_per_param_([a, b], max_norm=3.)
    torch.testing.assert_close(a.grad,
                               torch.tensor([6., 8.]) * 3 / (10 + 1e-6))
    torch.testing.assert_close(b.grad, torch.tensor([1., 2.]))
    # unlike clipping the total norm, which would shrink b too
    assert torch.linalg.vector_norm(torch.cat([a.grad, b.grad])) > 3.


@pytest.mark.parametrize('wrapper_type',
                         ['mmvitplug.ClipOptimWrapper',
                          'mmvitplug.BF16OptimWrapper'])
@pytest.mark.parametrize('clip', [
    dict(type='agc', clip_factor=0.01),
    dict(type='param_norm', max_norm=0.5),
])
def test_wrappers_clip_before_the_step(wrapper_type, clip):
    """An SGD step (lr 1, no momentum) moves each parameter by exactly its
    clipped gradient."""
    model = _model_with_grads()
    expected = _model_with_grads()
    func = adaptive_clip_grad_ if clip['type'] == 'agc' else \
        clip_grad_norm_per_param_
    func(expected.parameters(),
         **{k: v for k, v in clip.items() if k != 'type'})
    before = [p.detach().clone() for p in model.parameters()]
    wrapper = OPTIM_WRAPPERS.build(
        dict(type=wrapper_type, clip_grad=dict(clip)),
        default_args=dict(
            optimizer=torch.optim.SGD(model.parameters(), lr=1.)))
    assert wrapper.clip_grad_kwargs  # mmengine clips only when truthy
    wrapper.step()
    for p, p0, ref in zip(model.parameters(), before,
                          expected.parameters()):
        torch.testing.assert_close(p0 - p.detach(), ref.grad)


def test_agc_defaults_are_timm_s():
    model = torch.nn.Linear(2, 2)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='mmvitplug.ClipOptimWrapper', clip_grad=dict(type='agc')),
        default_args=dict(optimizer=torch.optim.SGD(model.parameters(),
                                                    lr=1.)))
    assert wrapper.clip_grad_kwargs == dict(clip_factor=0.01, eps=1e-3)


def test_mmengine_clip_types_still_work():
    model = _model_with_grads(grad_scale=100.)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='mmvitplug.ClipOptimWrapper', clip_grad=dict(max_norm=1.)),
        default_args=dict(optimizer=torch.optim.SGD(model.parameters(),
                                                    lr=1.)))
    wrapper._clip_grad()
    total = torch.linalg.vector_norm(
        torch.stack([p.grad.norm() for p in model.parameters()]))
    assert total == pytest.approx(1., rel=1e-4)


@pytest.mark.parametrize('clip,match', [
    (dict(type='agcc'), "Unknown clip_grad type 'agcc'.*'norm'.*'agc'"),
    (dict(type='agc', max_norm=1.), r"takes \['clip_factor', 'eps'\]"),
    (dict(type='param_norm'), "'param_norm'.*max_norm"),
])
def test_bad_clip_grad_is_named(clip, match):
    with pytest.raises(ValueError, match=match):
        OPTIM_WRAPPERS.build(
            dict(type='mmvitplug.ClipOptimWrapper', clip_grad=clip),
            default_args=dict(optimizer=torch.optim.SGD(
                torch.nn.Linear(2, 2).parameters(), lr=1.)))


def test_bad_values_are_named():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.ones(2)
    with pytest.raises(ValueError, match='positive'):
        adaptive_clip_grad_([p], clip_factor=0.)
    with pytest.raises(ValueError, match='positive'):
        clip_grad_norm_per_param_([p], max_norm=-1.)


@pytest.mark.parametrize('cuda,expected', [
    (False, 'mmvitplug.BF16OptimWrapper'),
    (True, 'mmvitplug.AmpClipOptimWrapper'),
])
def test_amp_keeps_the_extra_clipping(monkeypatch, cuda, expected):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = Config(dict(optim_wrapper=dict(
        type='mmvitplug.ClipOptimWrapper',
        clip_grad=dict(type='agc', clip_factor=0.01))))
    assert enable_amp(cfg) == expected
    assert cfg.optim_wrapper.clip_grad.type == 'agc'
