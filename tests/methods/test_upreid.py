# Copyright (c) mmvitplug contributors.
"""UP-ReID: each loss term against hand-computed values, the queue, the
stripe pooling, the momentum encoder and training with plugin backbones."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmvitplug.models.losses import UPReIDLoss
from mmvitplug.models.selfsup import UPReID

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


def unit(*v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def nce(pos, negs, tau):
    """-log softmax of the positive, by hand."""
    z = math.exp(pos / tau) + sum(math.exp(s / tau) for s in negs)
    return -math.log(math.exp(pos / tau) / z)


# 2 views x 2 images x 2 dims; queue of 3 keys
Q = [[unit(1, 0), unit(1, 1)], [unit(0, 1), unit(1, -1)]]
K = [[unit(2, 1), unit(1, 2)], [unit(1, -2), unit(3, 1)]]
QUEUE = [unit(1, 0), unit(0, 1), unit(-1, -1)]


def loss_fn(**kwargs):
    fn = UPReIDLoss(queue_len=3, feat_dim=2, **kwargs)
    fn.queue.copy_(torch.tensor(QUEUE).t())
    return fn


def test_instance_loss_by_hand():
    # view v's query against the other view's key; the queue as negatives
    expected = 0.
    for v in range(2):
        for i in range(2):
            q, k = Q[v][i], K[1 - v][i]
            expected += nce(dot(q, k), [dot(q, c) for c in QUEUE], 0.3)
    got = loss_fn(temperature=0.3).instance_loss(
        torch.tensor(Q), torch.tensor(K))
    assert float(got) == pytest.approx(expected / 4, rel=1e-6)


def test_consistency_loss_by_hand_and_stop_gradient():
    k_orig = [unit(1, 3), unit(-1, 1)]
    expected = sum(2 - 2 * dot(Q[v][i], k_orig[i]) for v in range(2)
                   for i in range(2)) / 4
    q = torch.tensor(Q, requires_grad=True)
    ko = torch.tensor(k_orig, requires_grad=True)
    got = UPReIDLoss.consistency_loss(q, ko)
    assert float(got.detach()) == pytest.approx(expected, rel=1e-6)
    got.backward()
    assert ko.grad is None  # the original image's embedding is a target
    # d/dq (2 - 2 q.k) / 4 = -k / 2 for each view
    assert torch.allclose(q.grad, -torch.tensor(k_orig).expand(2, 2, 2) / 2)


def test_local_loss_by_hand():
    """Stripe p of view v: positive = stripe p of the other view of the
    same image, negatives = its other stripes (never other images)."""
    # 2 views x 1 image x 3 stripes x 2 dims
    ql = [[[unit(1, 0), unit(0, 1), unit(1, 1)]],
          [[unit(1, 2), unit(-1, 1), unit(2, 1)]]]
    kl = [[[unit(2, 1), unit(0, 1), unit(1, -1)]],
          [[unit(1, 0), unit(1, 3), unit(-1, 2)]]]
    expected = 0.
    for v in range(2):
        for p in range(3):
            sims = [dot(ql[v][0][p], kl[1 - v][0][r]) for r in range(3)]
            expected += nce(sims[p], sims[:p] + sims[p + 1:], 0.5)
    got = loss_fn(local_temperature=0.5).local_loss(
        torch.tensor(ql), torch.tensor(kl))
    assert float(got) == pytest.approx(expected / 6, rel=1e-6)


def test_local_negatives_stay_inside_the_image():
    torch.manual_seed(0)
    ql = F.normalize(torch.randn(2, 3, 4, 8), dim=-1)
    kl = F.normalize(torch.randn(2, 3, 4, 8), dim=-1)
    fn = loss_fn()
    full = fn.local_loss(ql, kl)
    # changing image 2's keys leaves images 0 and 1 untouched
    per_image = [fn.local_loss(ql[:, i:i + 1], kl[:, i:i + 1])
                 for i in range(3)]
    assert torch.allclose(full, torch.stack(per_image).mean())


def test_weights_and_forward():
    torch.manual_seed(1)
    q, k = (F.normalize(torch.randn(2, 2, 2), dim=-1) for _ in range(2))
    ko = F.normalize(torch.randn(2, 2), dim=-1)
    ql, kl = (F.normalize(torch.randn(2, 2, 3, 4), dim=-1) for _ in range(2))
    fn = loss_fn(gc_weight=0.5, lc_weight=2.0)
    out = fn(q, k, ko, ql, kl)
    assert set(out) == {'loss_ins', 'loss_gc', 'loss_lc'}
    assert torch.allclose(out['loss_ins'], fn.instance_loss(q, k))
    assert torch.allclose(out['loss_gc'], 0.5 * fn.consistency_loss(q, ko))
    assert torch.allclose(out['loss_lc'], 2.0 * fn.local_loss(ql, kl))
    assert set(loss_fn(gc_weight=0., lc_weight=0.)(q, k, ko, ql, kl)) == {
        'loss_ins'
    }


def test_queue():
    fn = UPReIDLoss(queue_len=6, feat_dim=2)
    assert torch.allclose(fn.queue.norm(dim=0), torch.ones(6))
    keys = torch.arange(8.).view(4, 2)
    fn.enqueue(keys[:2])
    fn.enqueue(keys[2:])
    assert torch.equal(fn.queue[:, :4], keys.t())
    assert int(fn.queue_ptr) == 4
    with pytest.raises(ValueError, match='not a multiple'):
        fn.enqueue(torch.zeros(4, 2))


@pytest.mark.parametrize('kwargs,match', [
    (dict(temperature=0), 'temperature must be > 0'),
    (dict(local_temperature=-1), 'local_temperature must be > 0'),
    (dict(gc_weight=-1), 'gc_weight must be >= 0'),
    (dict(lc_weight=-0.1), 'lc_weight must be >= 0'),
    (dict(queue_len=0), 'queue_len and feat_dim'),
])
def test_loss_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UPReIDLoss(**kwargs)


# ------------------------------------------------------------- algorithm


def model_cfg(backbone=None, **kwargs):
    cfg = dict(
        type='mmvitplug.UPReID',
        backbone=backbone or dict(
            type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
            out_type='featmap'),
        neck=dict(type='MoCoV2Neck', in_channels=32, hid_channels=32,
                  out_channels=16, with_avg_pool=False),
        loss=dict(type='mmvitplug.UPReIDLoss', queue_len=16, feat_dim=16),
        momentum=0.1)
    cfg.update(kwargs)
    return cfg


def views(n=4, size=32):
    torch.manual_seed(2)
    return [torch.rand(n, 3, size, size) for _ in range(3)]


class MapBackbone(nn.Module):
    """Returns its input as the patch map (hand-checkable pooling)."""

    def forward(self, x):
        return (x, )


class IdentityNeck(nn.Module):

    def forward(self, x):
        return x


def test_global_and_stripe_pooling():
    model = UPReID(backbone=MapBackbone(), neck=IdentityNeck(),
                   num_stripes=2)
    fmap = torch.arange(2 * 3 * 4 * 2, dtype=torch.float).view(2, 3, 4, 2)
    glob, loc = model._encode(model._online(), fmap)
    assert torch.allclose(glob, F.normalize(fmap.mean((2, 3)), dim=-1))
    top = fmap[:, :, :2].mean((2, 3))  # rows 0-1: stripe 0
    bottom = fmap[:, :, 2:].mean((2, 3))
    assert torch.allclose(loc[:, 0], F.normalize(top, dim=-1))
    assert torch.allclose(loc[:, 1], F.normalize(bottom, dim=-1))


def test_step_trains_backbone_and_moves_momentum_encoder():
    model = MODELS.build(model_cfg(
        local_neck=dict(type='MoCoV2Neck', in_channels=32, hid_channels=32,
                        out_channels=8, with_avg_pool=False)))
    assert model.pretrained_backbone == 'backbone'
    optim = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(2):
        online_before = model.backbone.cls_token.detach().clone()
        momentum_before = model.encoder_k.module['backbone'].cls_token.clone()
        losses = model.loss(views(), None)
        assert set(losses) == {'loss_ins', 'loss_gc', 'loss_lc'}
        sum(losses.values()).backward()
        optim.step()
        optim.zero_grad()
        assert not torch.equal(model.backbone.cls_token, online_before)
    # the second update: avg = 0.9 avg + 0.1 online (online before step 2)
    assert torch.allclose(model.encoder_k.module['backbone'].cls_token,
                          0.9 * momentum_before + 0.1 * online_before)
    assert int(model.loss_module.queue_ptr) == (2 * 2 * 4) % 16
    # the momentum encoder gets no gradient
    assert all(p.grad is None for p in model.encoder_k.parameters())


@pytest.mark.parametrize('backbone', [
    dict(type='mmvitplug.CaiT',
         arch=dict(ARCH, num_ca_layers=1, init_values=1e-5),
         img_size=32, patch_size=8, out_type='featmap'),
    dict(type='mmvitplug.ResMLP',
         arch=dict(embed_dims=32, num_layers=2, feedforward_channels=64,
                   init_values=0.1),
         img_size=32, patch_size=8, out_type='featmap'),
])
def test_other_plugin_backbones(backbone):
    model = MODELS.build(model_cfg(backbone=backbone))
    losses = model.loss(views(n=2), None)
    assert all(torch.isfinite(v) for v in losses.values())


def test_clear_errors():
    model = MODELS.build(model_cfg(backbone=dict(
        type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
        out_type='cls_token')))
    with pytest.raises(ValueError, match="out_type='featmap'"):
        model.loss(views(), None)
    model = MODELS.build(model_cfg(num_stripes=5))  # 4 x 4 patch grid
    with pytest.raises(ValueError, match='fewer than num_stripes=5'):
        model.loss(views(), None)
    with pytest.raises(ValueError, match='three views'):
        MODELS.build(model_cfg()).loss(views()[:2], None)
    with pytest.raises(ValueError, match='num_stripes must be >= 1'):
        MODELS.build(model_cfg(num_stripes=0))
    with pytest.raises(ValueError, match='momentum'):
        MODELS.build(model_cfg(momentum=0.))
