# Copyright (c) mmvitplug contributors.
"""DRNet (https://arxiv.org/abs/2106.02898): the FLOPs constraint, the
resolution-specific BatchNorm, the straight-through hard Gumbel-softmax and
the FLOP count against hand-computed values; per-sample dispatch against
each image run alone at its resolution (and against the official
``eval.py``'s every-resolution-times-one-hot); the training objective
rebuilt by hand; loading a plain classifier; the refused backbones; every
argument and error. The official release is a MindSpore evaluation script
without training code (no PyTorch reference to run): the checks are
hand-computed values and the paper's equations."""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import Config
from mmpretrain.models.backbones import ResNet
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.layers import (ResolutionBatchNorm2d, convert_to_resolution_bn,
                              hard_gumbel_softmax, resize_to,
                              select_resolution)
from mmvitplug.models.classifiers import DRNetClassifier, ResolutionPredictor
from mmvitplug.models.losses import DRNetFLOPsLoss
from _builders import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'drnet',
                  'drnet-resnet18-w32_1xb64_digits.py')


class TinyCNN(nn.Module):
    """conv 3x3 (3 -> 4) + BN: 108 r^2 + 8 r^2 FLOPs at r x r."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return (torch.relu(self.bn(self.conv(x))), )


def resnet(**kwargs):
    return dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                **kwargs)


def drnet(seed=0, backbone=None, **kwargs):
    kwargs.setdefault('resolutions', [32, 24, 16])
    kwargs.setdefault('predictor_size', 16)
    kwargs.setdefault('neck', dict(type='GlobalAveragePooling'))
    kwargs.setdefault(
        'head', dict(type='LinearClsHead', num_classes=10, in_channels=64))
    kwargs.setdefault(
        'predictor',
        dict(type='mmvitplug.ResolutionPredictor', stem_channels=8,
             base_channels=8))
    torch.manual_seed(seed)
    model = DRNetClassifier(backbone=backbone or resnet(), **kwargs)
    model.init_weights()
    return model


def randomise_bn(model, seed=1):
    """Different statistics and affine parameters in every row."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ResolutionBatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=g) * 0.5 +
                            (1. if t is m.weight else 0.))
                m.running_var.copy_(torch.rand(m.running_var.shape,
                                               generator=g) + 0.5)


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


# ------------------------------------------------------------ Gumbel
def test_hard_gumbel_softmax_hand_values():
    # p = (1/2, 1/4, 1/4), no noise: one-hot of the first; the backward is
    # the soft sample's: dL/dz = y * (c - <y, c>) / tau for L = <h, c>
    logits = torch.tensor([0.5, 0.25, 0.25]).log().requires_grad_()
    c = torch.tensor([1., 2., 3.])
    h = hard_gumbel_softmax(logits, 1.0, gumbels=torch.zeros(3))
    assert torch.equal(h.detach(), torch.tensor([1., 0., 0.]))
    (h * c).sum().backward()
    torch.testing.assert_close(logits.grad,
                               torch.tensor([-0.375, 0.0625, 0.3125]))
    # tau 0.5: y = p^2 / sum p^2 = (2/3, 1/6, 1/6), <y, c> = 1.5
    logits.grad = None
    h = hard_gumbel_softmax(logits, 0.5, gumbels=torch.zeros(3))
    (h * c).sum().backward()
    torch.testing.assert_close(logits.grad,
                               torch.tensor([-2 / 3, 1 / 6, 1 / 2]))
    # the noise moves the arg-max
    h = hard_gumbel_softmax(logits, 1.0, gumbels=torch.tensor([0., 2., 0.]))
    assert torch.equal(h.detach(), torch.tensor([0., 1., 0.]))
    # along another dimension
    h = hard_gumbel_softmax(logits.detach().view(3, 1), 1.0,
                            gumbels=torch.zeros(3, 1), dim=0)
    assert torch.equal(h, torch.tensor([[1.], [0.], [0.]]))


def test_hard_gumbel_softmax_draws_as_torch():
    logits = torch.randn(5, 3, requires_grad=True)
    torch.manual_seed(3)
    ref = F.gumbel_softmax(logits, tau=0.7, hard=True)
    (ref * torch.arange(3.)).sum().backward()
    ref_grad, logits.grad = logits.grad, None
    torch.manual_seed(3)
    ours = hard_gumbel_softmax(logits, 0.7)
    (ours * torch.arange(3.)).sum().backward()
    assert torch.equal(ours, ref)
    torch.testing.assert_close(logits.grad, ref_grad)
    assert set(ours.sum(1).tolist()) == {1.}


def test_hard_gumbel_softmax_errors():
    with pytest.raises(ValueError, match='tau must be > 0'):
        hard_gumbel_softmax(torch.zeros(2, 3), 0.)
    with pytest.raises(ValueError, match='gumbels'):
        hard_gumbel_softmax(torch.zeros(2, 3), 1., gumbels=torch.zeros(3))


# ------------------------------------------------------------ FLOPs loss
def test_flops_loss_hand_values():
    # h: sample 0 at resolution 0 (cost 4), sample 1 at resolution 2 (1);
    # F = 2.5, alpha = 0.5 * 4 = 2: (2.5 / 2 - 1)^2 = 0.0625;
    # dL/dh_bj = 2 (F / alpha - 1) C_j / (alpha B) = 0.125 C_j
    h = torch.tensor([[1., 0., 0.], [0., 0., 1.]], requires_grad=True)
    flops = torch.tensor([4., 2., 1.])
    loss = DRNetFLOPsLoss(target=0.5, loss_weight=3.0)(h, flops)
    assert loss.item() == pytest.approx(3 * 0.0625)
    loss.backward()
    torch.testing.assert_close(h.grad,
                               3 * 0.125 * flops.expand(2, 3))
    # below the target: pulled up (negative gradient on the cost)
    h = torch.tensor([[0., 0., 1.]], requires_grad=True)
    loss = DRNetFLOPsLoss(target=0.5)(h, flops)
    assert loss.item() == pytest.approx((1 / 2 - 1)**2)
    loss.backward()
    torch.testing.assert_close(h.grad, 2 * (-0.5) * flops[None] / 2)
    # at the target: zero
    assert DRNetFLOPsLoss(target=0.5)(torch.tensor([[0., 1., 0.]]),
                                      flops).item() == 0.
    # the cost's unit does not matter; soft choices are expectations
    soft = torch.tensor([[0.5, 0.5, 0.]])
    assert DRNetFLOPsLoss(0.5)(soft, flops * 1e9).item() == pytest.approx(
        (3 / 2 - 1)**2)


def test_flops_loss_errors():
    for target in (0, 1.5, True, float('nan'), 'a'):
        with pytest.raises(ValueError, match=r'target must be .* \(0, 1\]'):
            DRNetFLOPsLoss(target=target)
    with pytest.raises(ValueError, match='loss_weight'):
        DRNetFLOPsLoss(loss_weight=-1.)
    loss = DRNetFLOPsLoss()
    with pytest.raises(ValueError, match='number of resolutions'):
        loss(torch.ones(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match=r'decisions must be a \(B, m\)'):
        loss(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match='flops must be > 0'):
        loss(torch.ones(2, 2), torch.tensor([1., 0.]))


# ------------------------------------------------------------ BatchNorm
def test_resolution_bn_uses_the_selected_row():
    bn = ResolutionBatchNorm2d(2, 3, eps=0.)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([[0., 0.], [1., -1.], [5., 5.]]))
        bn.running_var.copy_(torch.tensor([[1., 1.], [4., 16.], [1., 1.]]))
        bn.weight.copy_(torch.tensor([[1., 1.], [2., 3.], [1., 1.]]))
        bn.bias.copy_(torch.tensor([[0., 0.], [0.5, -1.], [0., 0.]]))
    x = torch.full((1, 2, 1, 1), 3.)
    bn.eval()
    bn.resolution_index = 1
    # (3 - 1) / 2 * 2 + 0.5 = 2.5; (3 + 1) / 4 * 3 - 1 = 2
    torch.testing.assert_close(bn(x).flatten(), torch.tensor([2.5, 2.]))
    select_resolution(bn, 2)
    torch.testing.assert_close(bn(x).flatten(), torch.tensor([-2., -2.]))
    select_resolution(bn, 0)
    torch.testing.assert_close(bn(x).flatten(), torch.tensor([3., 3.]))


def test_resolution_bn_training_updates_its_row_only():
    bn = ResolutionBatchNorm2d(1, 3)
    bn.resolution_index = 1
    x = torch.tensor([1., 3.]).view(2, 1, 1, 1)  # mean 2, unbiased var 2
    out = bn(x)
    torch.testing.assert_close(out.flatten(),
                               torch.tensor([-1., 1.]) / math.sqrt(1 + 1e-5))
    torch.testing.assert_close(bn.running_mean,
                               torch.tensor([[0.], [0.2], [0.]]))
    torch.testing.assert_close(bn.running_var,
                               torch.tensor([[1.], [1.1], [1.]]))
    assert bn.num_batches_tracked.tolist() == [0, 1, 0]
    # momentum None: the cumulative average of each row's own batches
    bn = ResolutionBatchNorm2d(1, 2, momentum=None)
    bn.resolution_index = 1
    bn(x)
    bn(x + 2)
    torch.testing.assert_close(bn.running_mean, torch.tensor([[0.], [3.]]))
    assert bn.num_batches_tracked.tolist() == [0, 2]


def test_resolution_bn_settings():
    # no running statistics: batch statistics in eval too
    bn = ResolutionBatchNorm2d(1, 2, track_running_stats=False).eval()
    x = torch.tensor([1., 3.]).view(2, 1, 1, 1)
    torch.testing.assert_close(bn(x).flatten(),
                               torch.tensor([-1., 1.]) / math.sqrt(1 + 1e-5))
    assert bn.running_mean is None
    # no affine parameters
    bn = ResolutionBatchNorm2d(1, 2, affine=False).eval()
    assert bn.weight is None and bn(x).equal(x / math.sqrt(1 + 1e-5))
    bn = ResolutionBatchNorm2d(3, 4, eps=0.5, momentum=0.3)
    assert (bn.eps, bn.momentum) == (0.5, 0.3)
    assert bn.weight.shape == bn.running_var.shape == (4, 3)
    assert 'num_resolutions=4' in repr(bn)
    for bad in (0, 1.5, True, None):
        with pytest.raises(ValueError, match='num_resolutions must be'):
            ResolutionBatchNorm2d(3, bad)
    for bad in (4, -1, 1.0):
        bn.resolution_index = bad
        with pytest.raises(ValueError, match=r'resolution_index .* \[0, 3\]'):
            bn(torch.zeros(2, 3, 1, 1))
    with pytest.raises(ValueError, match=r'resolution_index .* \[0, 3\]'):
        select_resolution(nn.Sequential(bn), 7)


def test_resolution_bn_from_and_to_a_plain_bn():
    plain = nn.BatchNorm2d(3, eps=1e-3, momentum=0.2)
    with torch.no_grad():
        for t in (plain.weight, plain.bias, plain.running_mean):
            t.copy_(torch.randn(3))
        plain.running_var.copy_(torch.rand(3) + 0.5)
        plain.num_batches_tracked.fill_(7)
    plain.eval()
    bn = ResolutionBatchNorm2d.from_batchnorm(plain, 2)
    assert not bn.training and (bn.eps, bn.momentum) == (1e-3, 0.2)
    assert bn.num_batches_tracked.tolist() == [7, 7]
    x = torch.randn(4, 3, 5, 5)
    for i in range(2):
        bn.resolution_index = i
        torch.testing.assert_close(bn(x), plain(x))
    # a plain BN's state dict loads into every row
    fresh = ResolutionBatchNorm2d(3, 2)
    fresh.load_state_dict(plain.state_dict())
    assert torch.equal(fresh.running_var, plain.running_var.expand(2, 3))
    # its own state dict round-trips strictly
    again = ResolutionBatchNorm2d(3, 2)
    again.load_state_dict(fresh.state_dict())
    assert torch.equal(again.weight, fresh.weight)


def test_convert_to_resolution_bn():
    torch.manual_seed(0)
    net = ResNet(depth=18, stem_channels=8, base_channels=8)
    net.eval()
    bns = sum(type(m) is nn.BatchNorm2d for m in net.modules())
    x = torch.randn(2, 3, 32, 32)
    ref = net(x)[-1]
    assert convert_to_resolution_bn(net, 3) == bns
    assert not any(type(m) is nn.BatchNorm2d for m in net.modules())
    assert isinstance(net.norm1, ResolutionBatchNorm2d)  # the property
    for i in range(3):
        assert select_resolution(net, i) == bns
        torch.testing.assert_close(net(x)[-1], ref)  # every row = the plain
    assert convert_to_resolution_bn(net, 3) == bns  # idempotent
    with pytest.raises(ValueError, match='already resolution-aware with 3'):
        convert_to_resolution_bn(net, 2)
    sync = nn.Sequential(nn.Conv2d(3, 3, 1), nn.SyncBatchNorm(3))
    with pytest.raises(ValueError, match='SyncBatchNorm: only nn.Batch'):
        convert_to_resolution_bn(sync, 2)
    with pytest.raises(ValueError, match='give it the network'):
        convert_to_resolution_bn(nn.BatchNorm2d(3), 2)
    assert convert_to_resolution_bn(nn.Linear(2, 2), 2) == 0


def test_norm_init_and_eval_reach_every_row():
    model = drnet(backbone=resnet(norm_eval=True))
    # ResNet's zero-initialised last norm of each block, in every row
    norm2 = model.backbone.layer1[0].norm2
    assert norm2.weight.shape == (3, 8) and not norm2.weight.any()
    assert model.backbone.norm1.weight.eq(1).all()
    model.train()
    assert not model.backbone.norm1.training  # norm_eval
    # no weight decay on them with norm_decay_mult=0
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.)))
    decay = {id(p): g['weight_decay']
             for g in wrapper.optimizer.param_groups for p in g['params']}
    assert decay[id(norm2.weight)] == 0.
    assert decay[id(model.backbone.conv1.weight)] == 1e-4


# ------------------------------------------------------------ predictor
def test_resolution_predictor():
    predictor = ResolutionPredictor(3, stem_channels=8, base_channels=8)
    assert predictor.stage_blocks == (1, 1, 1, 1)  # the official layout
    assert predictor(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    deeper = ResolutionPredictor(2, depth=18, base_channels=8)
    assert deeper.stage_blocks == (2, 2, 2, 2)
    assert deeper.fc.in_features == 64
    for bad in (1, 2.0, True):
        with pytest.raises(ValueError, match='num_resolutions must be an int'):
            ResolutionPredictor(bad)
    with pytest.raises(ValueError, match=r'depth must be one of \[10, 18'):
        ResolutionPredictor(3, depth=11)


# ------------------------------------------------------------ classifier
def mixed_choices(model, batch=8):
    """Images on which the predictor chooses at least two resolutions."""
    for seed in range(20):
        x = torch.randn(batch, 3, 32, 32,
                        generator=torch.Generator().manual_seed(seed))
        if model.choose(x).unique().numel() >= 2:
            return x
    raise AssertionError('the predictor chose one resolution for all')


def run_alone(model, x, index):
    """An image alone through backbone, neck and head at resolution
    ``index``: its size and its BatchNorm row, set by hand."""
    assert select_resolution(model, index) == 20  # the ResNet-18's BNs
    x = F.interpolate(x, size=(model.resolutions[index], ) * 2,
                      mode='bilinear', align_corners=False)
    return model.head(model.neck(model.backbone(x)))


def test_dispatch_equals_each_image_alone():
    model = drnet()
    randomise_bn(model)
    with torch.no_grad():  # a predictor whose choice varies with the image
        model.predictor.fc.weight.mul_(50)
    model.eval()
    x = mixed_choices(model)
    choice = model.choose(x)
    seen, predicted = [], []
    hooks = [
        model.backbone.register_forward_pre_hook(
            lambda m, args: seen.append(tuple(args[0].shape))),
        model.predictor.register_forward_pre_hook(
            lambda m, args: predicted.append(tuple(args[0].shape)))
    ]
    with torch.no_grad():
        logits = model(x, mode='tensor')
    for hook in hooks:
        hook.remove()
    assert predicted == [(8, 3, 16, 16)]  # predictor_size
    # one backbone run per chosen resolution, each image once, at its size
    expected = sorted((int((choice == i).sum()), 3, s, s)
                      for i, s in enumerate(model.resolutions)
                      if (choice == i).any())
    assert sorted(seen) == expected
    with torch.no_grad():
        for b in range(x.size(0)):
            alone = run_alone(model, x[b:b + 1], int(choice[b]))
            torch.testing.assert_close(logits[b:b + 1], alone)
            torch.testing.assert_close(
                model.classify_at(x[b:b + 1], int(choice[b]), 'logits'),
                alone)
        # the official eval.py: every resolution, times the one-hot
        onehot = F.one_hot(choice, 3).float()
        official = sum(onehot[:, i:i + 1] * model.classify_at(x, i, 'logits')
                       for i in range(3))
    torch.testing.assert_close(logits, official)
    # the resolution matters: another size, or another BatchNorm row at
    # the same size, gives other logits
    with torch.no_grad():
        b = int((choice != 0).nonzero()[0])
        other = model.classify_at(x[b:b + 1], 0, 'logits')
        size = model.resolutions[int(choice[b])]
        select_resolution(model, 0)
        other_row = model.head(model.neck(model.backbone(
            resize_to(x[b:b + 1], size))))
    assert not torch.allclose(other, logits[b:b + 1])
    assert not torch.allclose(other_row, logits[b:b + 1])
    # predict: the same scores; pre_logits too
    with torch.no_grad():
        preds = model.predict(x)
        feats = model.extract_feat(x, stage='pre_logits')
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]), logits.softmax(1))
    torch.testing.assert_close(model.head.fc(feats), logits)


def test_loss_is_the_chosen_logits_objective():
    model = drnet(flops_loss=dict(type='mmvitplug.DRNetFLOPsLoss',
                                  target=0.5, loss_weight=2.0), tau=0.5)
    model.train()
    x = torch.randn(6, 3, 32, 32)
    labels = torch.arange(6) % 10
    torch.manual_seed(5)
    losses = model.loss(x, samples(labels))
    assert set(losses) == {'loss', 'loss_flops', 'flops_ratio'}
    # by hand: the same Gumbel draw after the predictor
    torch.manual_seed(5)
    h = hard_gumbel_softmax(model.predictor_logits(x), 0.5)
    logits = [model.classify_at(x, i, 'logits') for i in range(3)]
    chosen = torch.stack([logits[int(k)][b]
                          for b, k in enumerate(h.argmax(1))])
    torch.testing.assert_close(losses['loss'],
                               F.cross_entropy(chosen, labels))
    flops = model.candidate_flops(x).float()
    cost = flops[h.argmax(1)].mean()
    torch.testing.assert_close(losses['loss_flops'],
                               2.0 * (cost / (0.5 * flops[0]) - 1)**2)
    torch.testing.assert_close(losses['flops_ratio'], cost / flops[0])
    # both terms train the predictor, through the straight-through sample
    torch.manual_seed(5)
    model.zero_grad()
    losses = model.loss(x, samples(labels))
    losses['loss'].backward(retain_graph=True)
    assert model.predictor.fc.weight.grad.abs().sum() > 0
    grad = model.predictor.fc.weight.grad.clone()
    model.zero_grad()
    losses['loss_flops'].backward()
    assert model.predictor.fc.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad is None  # the cost alone
    # tau: the same choices (the arg-max is the same), other gradients
    model.tau = 1.0
    model.zero_grad()
    torch.manual_seed(5)
    again = model.loss(x, samples(labels))
    torch.testing.assert_close(again['loss'], losses['loss'])
    again['loss'].backward()
    assert not torch.allclose(model.predictor.fc.weight.grad, grad)


def test_candidate_flops_hand_values():
    model = drnet(backbone=TinyCNN(), resolutions=[8, 4],
                  head=dict(type='LinearClsHead', num_classes=10,
                            in_channels=4))
    # conv 108 r^2 + BN (eval, affine) 2 x 4 r^2 + pooling 4 r^2 + fc 40
    flops = model.candidate_flops()
    assert flops.tolist() == [120 * 64 + 40, 120 * 16 + 40]
    assert model.training  # the count leaves the mode as it was
    assert model.candidate_flops(in_channels=3) is flops  # counted once
    # the predictor's: positive, small next to the classifier's
    assert 0 < model.predictor_flops() < drnet().candidate_flops()[0]


def test_plain_classifier_checkpoint_loads():
    torch.manual_seed(0)
    plain = ImageClassifier(
        backbone=resnet(), neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
    plain.init_weights()
    for m in plain.modules():  # non-trivial statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    plain.eval()
    model = drnet(seed=1).eval()
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all(k.startswith('predictor.') for k in result.missing_keys)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for i, size in enumerate(model.resolutions):
            torch.testing.assert_close(
                model.classify_at(x, i, 'logits'),
                plain(resize_to(x, size), mode='tensor'))


def test_refused_backbones():
    deit = dict(type='mmvitplug.DeiT',
                arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                          feedforward_channels=64),
                img_size=32, patch_size=8)
    with pytest.raises(ValueError, match='DeiT is a vision transformer'):
        drnet(backbone=deit, head=dict(
            type='LinearClsHead', num_classes=10, in_channels=32))
    with pytest.raises(ValueError, match='ResNet has no nn.BatchNorm2d'):
        drnet(backbone=resnet(norm_cfg=dict(type='GN', num_groups=4)))
    with pytest.raises(ValueError, match='SyncBatchNorm'):
        drnet(backbone=resnet(norm_cfg=dict(type='SyncBN')))


def test_classifier_argument_errors():
    for bad in ([32], 32, [32, 32], [16, 32], [32, 0], [32, 24.5]):
        with pytest.raises(ValueError, match='resolutions'):
            drnet(resolutions=bad)
    for bad in (0, 16.0):
        with pytest.raises(ValueError, match='predictor_size must be'):
            drnet(predictor_size=bad)
    for bad in (0, -1., float('inf')):
        with pytest.raises(ValueError, match='tau must be'):
            drnet(tau=bad)
    with pytest.raises(ValueError, match='num_resolutions=2, but there are 3'):
        drnet(predictor=dict(type='mmvitplug.ResolutionPredictor',
                             num_resolutions=2, base_channels=8))
    with pytest.raises(TypeError, match='model.predictor must be'):
        drnet(predictor='ResNet')
    with pytest.raises(TypeError, match='model.flops_loss must be'):
        drnet(flops_loss=1.0)
    with pytest.raises(TypeError, match='must be an mmpretrain ClsHead'):
        drnet(head=dict(type='mmvitplug.DRLocHead', in_channels=64))
    model = drnet().eval()
    with pytest.raises(ValueError, match="stage='neck' or 'pre_logits'"):
        model.extract_feat(torch.randn(1, 3, 32, 32), stage='backbone')
    # the predictor's output must be (B, m)
    model.predictor = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(ValueError, match=r'logits \(B, m\) = \(1, 3\)'):
        model.choose(torch.randn(1, 3, 32, 32))


def test_features_of_different_shapes_need_a_pooling_neck():
    # the first stage's maps: 8 x 8, 6 x 6, 4 x 4
    model = drnet(neck=None, backbone=resnet(out_indices=(0, )),
                  head=dict(type='LinearClsHead', num_classes=10,
                            in_channels=8))
    with torch.no_grad():
        model.predictor.fc.weight.mul_(50)
    model.eval()
    x = mixed_choices(model)
    with pytest.raises(ValueError, match='give DRNetClassifier a pooling'):
        model(x, mode='tensor')


def test_bundled_config_builds():
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    assert isinstance(model, DRNetClassifier)
    assert model.resolutions == [32, 24, 16] and model.predictor_size == 16
    assert isinstance(model.predictor, ResolutionPredictor)
    assert model.flops_loss.target == 0.6
