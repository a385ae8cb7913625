# Copyright (c) mmvitplug contributors.
"""MACL (model-aware contrastive learning): MACLLoss against its closed form
(hand-computed), stop-gradients through the alignment and the weights, and
the heads inside mmpretrain's SimCLR, MoCo (v2) and MoCoV3 unchanged.

``tests/data/macl_lightly_golden.json`` holds two 6 x 5 embedding batches
(z0, z1) and the losses of lightly's ``MACLLoss`` (lightly-ai/lightly
``lightly/loss/macl_loss.py``, commit 0441864) and of the authors' function
(chenhaoxing/MACL ``macl.py``, commit 82d3fb5) on them for four
(temperature, alpha, a0) settings. Produced by running both in a scratch
directory outside the repository (float64, ``torch.manual_seed(0)``-style
generator, inputs rounded to 4 decimals); the two references agree to
3e-7 (lightly adds 1e-8 to 1 - P).
"""
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.models.heads import ContrastiveHead, MoCoV3Head
from mmpretrain.models.selfsup import SimCLR
from mmpretrain.registry import MODELS

from mmvitplug.models.heads import MACLHead, MACLMoCoV3Head
from mmvitplug.models.losses import MACLLoss

GOLDEN = osp.join(osp.dirname(__file__), '..', 'data',
                  'macl_lightly_golden.json')
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


POS = [[0.8], [0.4], [-0.1]]
NEG = [[0.1, -0.2], [0.3, 0.0], [0.5, 0.2]]


def closed_form(pos, neg, tau0, alpha, a0, reweight=True):
    """MACL by hand (math module only): A, tau, P_i, V_i, loss."""
    n = len(pos)
    a = sum(p[0] for p in pos) / n
    tau = tau0 * (1 + alpha * (a - a0))
    total = 0.
    for p, ns in zip(pos, neg):
        z = math.exp(p[0] / tau) + sum(math.exp(s / tau) for s in ns)
        prob = math.exp(p[0] / tau) / z
        weight = 1 / (1 - prob) if reweight else 1.
        total += -weight * math.log(prob)
    return total / n, tau


@pytest.mark.parametrize('tau0,alpha,a0', [(0.1, 0.5, 0.), (0.2, 1.0, 0.3),
                                           (0.07, 0., 0.)])
@pytest.mark.parametrize('reweight', [True, False])
def test_loss_closed_form(tau0, alpha, a0, reweight):
    expected, tau = closed_form(POS, NEG, tau0, alpha, a0, reweight)
    loss_fn = MACLLoss(temperature=tau0, alpha=alpha, a0=a0,
                       reweight=reweight, eps=0.)
    pos, neg = torch.tensor(POS, dtype=torch.float64), torch.tensor(NEG)
    assert float(loss_fn.adaptive_temperature(loss_fn.alignment(pos))) == \
        pytest.approx(tau, rel=1e-6)
    assert float(loss_fn(pos, neg)) == pytest.approx(expected, rel=1e-6)


def test_alignment_sets_the_temperature():
    # A = (0.8 + 0.4 - 0.1) / 3 = 11/30; tau = 0.1 * (1 + 0.5 * (11/30 - .2))
    loss_fn = MACLLoss(temperature=0.1, alpha=0.5, a0=0.2)
    a = loss_fn.alignment(torch.tensor(POS))
    assert float(a) == pytest.approx(11 / 30)
    assert float(loss_fn.adaptive_temperature(a)) == pytest.approx(
        0.1 * (1 + 0.5 * (11 / 30 - 0.2)))


def test_alpha_zero_is_infonce_reweighted():
    """alpha = 0: tau = tau0 whatever the alignment; the loss is InfoNCE
    with each anchor weighted by 1 / (1 - P_i); without the weights it is
    mmpretrain's ContrastiveHead exactly."""
    torch.manual_seed(0)
    pos, neg = torch.rand(5, 1), torch.rand(5, 7) * 2 - 1
    logits = torch.cat([pos, neg], 1) / 0.2
    ce = F.cross_entropy(logits, torch.zeros(5, dtype=torch.long),
                         reduction='none')
    p = (-ce).exp()
    macl = MACLLoss(temperature=0.2, alpha=0., eps=0.)
    assert torch.allclose(macl(pos, neg), (ce / (1 - p)).mean())
    # shifting all positives changes A but not tau when alpha = 0
    assert float(macl.adaptive_temperature(macl.alignment(pos + 0.3))) == \
        pytest.approx(0.2)
    plain = MACLHead(loss=dict(type='mmvitplug.MACLLoss', temperature=0.2,
                               alpha=0., reweight=False))
    reference = ContrastiveHead(
        loss=dict(type='CrossEntropyLoss'), temperature=0.2)
    assert torch.allclose(plain.loss(pos, neg), reference.loss(pos, neg))


def test_loss_weight():
    pos, neg = torch.tensor(POS), torch.tensor(NEG)
    one = MACLLoss()(pos, neg)
    assert torch.allclose(MACLLoss(loss_weight=2.5)(pos, neg), 2.5 * one)


def test_eps_guards_certain_positives():
    pos, neg = torch.tensor([[1.0]]), torch.tensor([[-1.0, -1.0]])
    # P = 1 - 2e-87 rounds to 1: 1 / (1 - P) is inf without eps
    assert torch.isfinite(MACLLoss(temperature=0.01, eps=1e-8)(pos, neg))
    assert not torch.isfinite(MACLLoss(temperature=0.01, eps=0.)(pos, neg))


@pytest.mark.parametrize('alpha', [0., 0.5, 1.0])
def test_gradients_do_not_flow_through_alignment_or_weights(alpha):
    """With tau and V_i constants, d loss / d pos_i = -V_i (1 - P_i) /
    (N tau) = -1 / (N tau) exactly, and d loss / d neg_ik = V_i P_ik /
    (N tau). A gradient through A (tau) or V_i would change both."""
    torch.manual_seed(1)
    n, k = 4, 6
    pos = (torch.rand(n, 1, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    neg = (torch.rand(n, k, dtype=torch.float64) - 0.5).requires_grad_()
    loss_fn = MACLLoss(temperature=0.1, alpha=alpha, a0=0.1, eps=0.)
    loss_fn(pos, neg).backward()
    tau = 0.1 * (1 + alpha * (pos.detach().mean() - 0.1))
    probs = torch.softmax(torch.cat([pos, neg], 1).detach() / tau, 1)
    weight = 1 / (1 - probs[:, :1])
    assert torch.allclose(pos.grad, torch.full_like(pos, -1 / (n * tau)))
    assert torch.allclose(neg.grad, weight * probs[:, 1:] / (n * tau))


def test_gradient_without_reweighting_is_infonce():
    torch.manual_seed(2)
    pos = torch.rand(3, 1, dtype=torch.float64).requires_grad_()
    neg = torch.rand(3, 4, dtype=torch.float64).requires_grad_()
    MACLLoss(temperature=0.2, alpha=0.5, reweight=False)(pos, neg).backward()
    tau = 0.2 * (1 + 0.5 * pos.detach().mean())
    probs = torch.softmax(torch.cat([pos, neg], 1).detach() / tau, 1)
    assert torch.allclose(pos.grad, -(1 - probs[:, :1]) / (3 * tau))


def test_matches_lightly_and_the_authors_code():
    """mmpretrain's SimCLR (its own pairing of the two views) + MACLHead
    gives lightly's and the authors' numbers."""
    with open(GOLDEN) as f:
        golden = json.load(f)
    z0 = torch.tensor(golden['z0'], dtype=torch.float64)
    z1 = torch.tensor(golden['z1'], dtype=torch.float64)

    class Flat(nn.Module):  # images (N, C, 1, 1) -> features (N, C)

        def forward(self, x):
            return (x.flatten(1), )

    class Neck(nn.Module):

        def forward(self, x):
            return [x[0]]

    for case in golden['cases']:
        head = MACLHead(loss=dict(
            type='mmvitplug.MACLLoss', temperature=case['temperature'],
            alpha=case['alpha'], a0=case['a0']))
        simclr = SimCLR(backbone=Flat(), neck=Neck(), head=head)
        views = [z0[..., None, None], z1[..., None, None]]
        loss = float(simclr.loss(views, None)['loss'])
        assert loss == pytest.approx(case['lightly'], abs=1e-7), case
        assert loss == pytest.approx(case['chenhaoxing'], abs=1e-6), case


class Identity(nn.Module):

    def forward(self, x):
        return x


def test_mocov3_head_closed_form():
    """MACLMoCoV3Head: positives on the diagonal of the cosine matrix of
    predictions and (gathered) momentum outputs, the rest negatives."""
    torch.manual_seed(3)
    base, momentum = torch.randn(4, 8), torch.randn(4, 8)
    head = MACLMoCoV3Head(
        predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=8,
                       out_channels=8, with_avg_pool=False),
        loss=dict(type='mmvitplug.MACLLoss', temperature=0.2, alpha=0.5))
    head.predictor.forward = lambda x: x  # identity: hand-checkable
    sim = F.normalize(base, dim=1) @ F.normalize(momentum, dim=1).t()
    pos = [[float(sim[i, i])] for i in range(4)]
    neg = [[float(sim[i, j]) for j in range(4) if j != i] for i in range(4)]
    expected, _ = closed_form(pos, neg, 0.2, 0.5, 0.)
    assert float(head.loss(base, momentum)) == pytest.approx(expected,
                                                             rel=1e-5)
    # alpha = 0 without weights: mmpretrain's MoCoV3Head at T = tau0
    plain = MACLMoCoV3Head(
        predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=8,
                       out_channels=8, with_avg_pool=False),
        loss=dict(type='mmvitplug.MACLLoss', temperature=0.2, alpha=0.,
                  reweight=False))
    reference = MoCoV3Head(
        predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=8,
                       out_channels=8, with_avg_pool=False),
        loss=dict(type='CrossEntropyLoss'), temperature=0.2)
    plain.predictor.forward = reference.predictor.forward = lambda x: x
    assert torch.allclose(
        plain.loss(base, momentum), reference.loss(base, momentum))


def _views(n=4):
    torch.manual_seed(4)
    return [torch.rand(n, 3, 32, 32), torch.rand(n, 3, 32, 32)]


@pytest.mark.parametrize('algo', ['MoCo', 'SimCLR', 'MoCoV3'])
def test_heads_train_mmpretrain_algorithms_from_config(algo):
    """Built from a config dict, one step of each mmpretrain algorithm with
    the MACL head moves the backbone (any plugin backbone: a DeiT)."""
    backbone = dict(type='mmvitplug.DeiT', arch=ARCH, img_size=32,
                    patch_size=8, out_type='cls_token')
    neck = dict(type='NonLinearNeck', in_channels=32, hid_channels=32,
                out_channels=16, with_avg_pool=False)
    loss = dict(type='mmvitplug.MACLLoss', temperature=0.2)
    if algo == 'MoCoV3':
        head = dict(type='mmvitplug.MACLMoCoV3Head', loss=loss,
                    predictor=dict(type='NonLinearNeck', in_channels=16,
                                   hid_channels=32, out_channels=16,
                                   with_avg_pool=False))
    else:
        head = dict(type='mmvitplug.MACLHead', loss=loss)
    cfg = dict(type=algo, backbone=backbone, neck=neck, head=head)
    if algo == 'MoCo':
        cfg.update(queue_len=8, feat_dim=16)
    model = MODELS.build(cfg)
    assert isinstance(model.head.loss_module, MACLLoss)
    before = model.backbone.cls_token.detach().clone()
    optim = torch.optim.SGD(model.parameters(), lr=1.0)
    loss = model.loss(_views(), None)['loss']
    assert torch.isfinite(loss)
    loss.backward()
    optim.step()
    assert not torch.equal(model.backbone.cls_token, before)


@pytest.mark.parametrize('kwargs,match', [
    (dict(temperature=0.), 'temperature must be > 0'),
    (dict(alpha=-0.1), 'alpha must be >= 0'),
    (dict(a0=1.5), r'in \[-1, 1\]'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MACLLoss(**kwargs)


def test_non_positive_temperature_at_runtime_is_named():
    loss_fn = MACLLoss(temperature=0.1, alpha=1.0, a0=0.5)
    with pytest.raises(ValueError, match='lower alpha or a0'):
        loss_fn(torch.full((2, 1), -0.9), torch.zeros(2, 3))


def test_bad_shapes_and_loss_config():
    with pytest.raises(ValueError, match=r'pos \(N, 1\)'):
        MACLLoss()(torch.zeros(3), torch.zeros(3, 4))
    with pytest.raises(TypeError, match='loss config dict'):
        MACLHead(loss='MACLLoss')
    with pytest.raises(TypeError, match='loss config dict'):
        MACLMoCoV3Head(predictor=dict(type='NonLinearNeck', in_channels=4,
                                      hid_channels=4, out_channels=4),
                       loss=None)
