# Copyright (c) mmvitplug contributors.
"""MixSKD: the classifier and its loss reproduce the official network and
ImageNet-script losses (golden values made by running the official code);
the discriminators train, the adversarial switch flips only the network's
gradient, branches are fresh copies of the later stages for ResNets and for
mmvitplug backbones; every argument and error."""
import os.path as osp
import re
import zlib

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.layers import grad_reverse
from mmvitplug.models.classifiers import MixSKDClassifier
from mmvitplug.models.losses import MixSKDLoss, mix_pairs
from _builders import TINY_ARCHS, TINY_KWARGS

GOLDEN = osp.join(osp.dirname(osp.dirname(__file__)), 'data',
                  'mixskd_golden.pt')
# golden (official winycg/Self-KD-Lib ede3062): MixSKD_CIFAR_ResNet18(
# num_classes=10) and discriminatorLoss([512] * 4), every weight and BN
# statistic filled by fill() below under its official name, 2 images of
# 32 x 32, lam 0.3, partners [1, 0], train mode; the ImageNet script's loss
# terms (cls incl. the Mixup CE, div, fea, gan), gradients after backward,
# BN statistics after the forward.


def fill(name, t):
    """The golden file's weights: seeded by the official name."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    leaf = name.rsplit('.', 1)[-1]
    if leaf == 'num_batches_tracked':
        return
    if leaf == 'running_var':
        v = 1 + 0.5 * torch.rand(t.shape, generator=g)
    elif leaf == 'running_mean':
        v = 0.1 * torch.randn(t.shape, generator=g)
    elif t.dim() == 1 and leaf == 'weight':
        v = 1 + 0.1 * torch.randn(t.shape, generator=g)
    elif t.dim() == 1:
        v = 0.1 * torch.randn(t.shape, generator=g)
    else:
        v = torch.randn(t.shape, generator=g) / t[0].numel()**0.5
    with torch.no_grad():
        t.copy_(v)


def official_name(name: str) -> str:
    """Our parameter name -> the official one."""
    m = re.match(r'branches\.(\d)\.layer(\d)\.(.*)', name)
    if m:
        b, layer, rest = int(m[1]), int(m[2]), m[3]
        return (f'auxiliary_classifier.block_extractor{b + 1}.'
                f'{layer - b - 2}.{rest}')
    m = re.match(r'branch_heads\.(\d)\.(.*)', name)
    if m:
        return f'auxiliary_classifier.fc{int(m[1]) + 1}.{m[2]}'
    m = re.match(r'loss_module\.discriminators\.(\d)\.(.*)', name)
    if m:
        return f'disc.{m[1]}.classifier.{m[2]}'
    for ours, theirs in (('head.fc.', 'backbone.fc.'),
                         ('ensemble_head.', 'final_aux_classifier.'),
                         ('backbone.', 'backbone.')):
        if name.startswith(ours):
            return theirs + name[len(ours):]
    raise KeyError(name)


def cifar_r18(**kwargs):
    """MixSKD on mmpretrain's CIFAR ResNet-18 (the official network but for
    the stem's ReLU, removed here to match it)."""
    cfg = dict(
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    cfg.update(kwargs)
    model = MixSKDClassifier(**cfg)
    model.backbone.relu = nn.Identity()
    return model


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN)


def _official_step(golden, x):
    """Our model with the golden weights, one loss + backward on ``x`` as
    the official step (the official sign of the discriminator term)."""
    model = cifar_r18(
        loss=dict(type='mmvitplug.MixSKDLoss', adversarial=False))
    for name, t in model.state_dict().items():
        fill(official_name(name), t)
    model.train()
    lam, perm = golden['lam'], golden['index']
    model.draw_mixup = lambda n, device: (lam, perm)
    losses = model.loss(x, samples(golden['targets']))
    sum(losses.values()).backward()
    return model, losses


@pytest.fixture(scope='module')
def official_run(golden):
    return _official_step(golden, golden['x'])


@pytest.fixture(scope='module')
def nudged_run(golden):
    """The same step on the input changed by 1e-7 (relative): how much
    each gradient of this case moves under rounding-sized changes."""
    noise = torch.randn(golden['x'].shape,
                        generator=torch.Generator().manual_seed(0))
    return _official_step(golden, golden['x'] * (1 + 1e-7 * noise))[0]


def test_every_weight_has_an_official_name(golden):
    model = cifar_r18()
    names = [official_name(n) for n in model.state_dict()]
    assert len(set(names)) == len(names)
    # 3 branches (layers 2-4, 3-4, 4), their fcs, the self-teacher, 4 D's
    assert sum(n.startswith('disc.') for n in names) == 16
    assert 'auxiliary_classifier.block_extractor1.2.1.conv2.weight' in names
    assert 'auxiliary_classifier.block_extractor3.0.0.conv1.weight' in names
    assert not any('block_extractor3.1' in n for n in names)


def test_losses_match_official(golden, official_run):
    _, losses = official_run
    cls = losses['loss_cls'] + losses['loss_mixup_cls']
    assert losses['loss_cls'].item() == pytest.approx(
        golden['loss_cls_clean'], rel=1e-5)
    assert losses['loss_mixup_cls'].item() == pytest.approx(
        golden['loss_cls_mixup'] + golden['loss_cls_ens'], rel=1e-5)
    assert cls.item() == pytest.approx(golden['loss_cls'], rel=1e-5)
    assert losses['loss_kd'].item() == pytest.approx(
        golden['loss_div'], rel=1e-5)
    assert losses['loss_feat'].item() == pytest.approx(
        golden['loss_fea'], rel=1e-5)
    assert losses['loss_adv'].item() == pytest.approx(
        golden['loss_gan'], rel=1e-5)
    assert sum(losses.values()).item() == pytest.approx(
        golden['loss'], rel=1e-5)


def test_logits_and_statistics_match_official(golden, official_run):
    model, _ = official_run
    model.eval()
    with torch.no_grad():
        # the train-mode logits, recomputed from the same BN batch: compare
        # the forward through the BN statistics the official step left
        state = {official_name(n): t for n, t in model.state_dict().items()}
    for name, value in golden['bn_after'].items():
        torch.testing.assert_close(state[name], value, rtol=1e-5, atol=1e-6)


def test_gradients_match_official(golden, official_run, nudged_run):
    """Every gradient the golden file holds. This case's stem gradients
    (and the first branch block's) sit at a discontinuity of the step: a
    1e-7 relative change of the input moves them by 7e-4 - 4e-3 (relative
    norm; the same jump for a change of the input or of the weights:
    apparently a tie resolved either way), as much as they differ between
    machines (the golden file matched to 1e-6 on earlier ones, by 3e-3 on
    an AVX-512 one), while every other gradient moves by < 1e-5. The
    stable ones are compared element-wise at rtol 1e-4; a moving one up to
    twice its own movement."""
    model, _ = official_run
    params = {official_name(n): p for n, p in model.named_parameters()}
    nudged = {official_name(n): p for n, p in nudged_run.named_parameters()}
    moving = []
    for name, grad in golden['grads'].items():
        key, _, part = name.partition(':')
        ours, moved = params[key].grad, nudged[key].grad
        if part:
            ours, moved = ours[:int(part)], moved[:int(part)]
        movement = ((moved - ours).norm() / ours.norm()).item()
        if movement < 1e-5:
            torch.testing.assert_close(ours, grad, rtol=1e-4, atol=1e-6)
        else:
            moving.append(key)
            error = ((ours - grad).norm() / grad.norm()).item()
            assert error <= 2 * movement, (name, error, movement)
    # the discontinuity touches the trunk below the first branch only
    assert set(moving) <= {
        'backbone.conv1.weight', 'backbone.bn1.weight',
        'backbone.layer1.0.bn1.bias',
        'auxiliary_classifier.block_extractor1.0.0.bn2.weight'
    }, moving


def test_training_logits_match_official(golden):
    model = cifar_r18()
    for name, t in model.state_dict().items():
        fill(official_name(name), t)
    model.train()
    x, lam, perm = golden['x'], golden['lam'], golden['index']
    inputs = torch.cat([x, lam * x + (1 - lam) * x[perm]])
    logits, maps = model.forward_paths(inputs)
    for ours, theirs in zip(logits, golden['logits']):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    interp = [mix_pairs(m, lam, perm) for m in maps]
    torch.testing.assert_close(
        model.ensemble_head(interp), golden['ens_logits'], rtol=1e-4,
        atol=1e-5)
    torch.testing.assert_close(
        model.ensemble_head([m[2:] for m in maps]),
        golden['ens_mixup_logits'], rtol=1e-4, atol=1e-5)


def test_adversarial_reverses_only_the_networks_gradient(golden):
    """The discriminator term's gradient: the same for the discriminators,
    reversed for the network (official sign: adversarial=False)."""
    grads = {}
    for adversarial in (False, True):
        model = cifar_r18(
            loss=dict(
                type='mmvitplug.MixSKDLoss',
                adversarial=adversarial,
                cls_weight=0.,
                mixup_cls_weight=0.,
                kd_weight=0.,
                feat_weight=0.))
        for name, t in model.state_dict().items():
            fill(official_name(name), t)
        model.train()
        lam, perm = golden['lam'], golden['index']
        model.draw_mixup = lambda n, device: (lam, perm)
        losses = model.loss(golden['x'], samples(golden['targets']))
        assert losses['loss_adv'].item() == pytest.approx(
            golden['loss_gan'], rel=1e-5)
        sum(losses.values()).backward()
        grads[adversarial] = dict(
            net=model.backbone.layer4[1].conv2.weight.grad[:4].clone(),
            disc=model.loss_module.discriminators[0][0].weight.grad[:8]
            .clone())
    torch.testing.assert_close(grads[False]['net'],
                               golden['grad_gan_layer4_conv2'][:4],
                               rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(grads[False]['disc'],
                               golden['grad_gan_disc0_w0'][:8], rtol=1e-4,
                               atol=1e-7)
    torch.testing.assert_close(grads[True]['net'], -grads[False]['net'])
    torch.testing.assert_close(grads[True]['disc'], grads[False]['disc'])


def test_grad_reverse():
    x = torch.randn(3, requires_grad=True)
    y = grad_reverse(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1., 2., 3.])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-.5, -1., -1.5]))
    with pytest.raises(ValueError, match='scale'):
        grad_reverse(x, -1.)


def test_discriminators_are_trained_and_saved():
    torch.manual_seed(0)
    model = cifar_r18()
    names = [n for n, _ in model.named_parameters()]
    assert 'loss_module.discriminators.3.2.weight' in names
    assert 'loss_module.discriminators.0.0.weight' in model.state_dict()
    wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1)))
    before = model.loss_module.discriminators[0][0].weight.clone()
    x = torch.randn(4, 3, 32, 32)
    model.train()
    losses = model.loss(x, samples([0, 1, 2, 3]))
    wrapper.update_params(sum(losses.values()))
    assert not torch.equal(model.loss_module.discriminators[0][0].weight,
                           before)


def test_loss_terms_by_hand():
    """Each term from its formula, 2 paths, soft targets."""
    torch.manual_seed(0)
    n, c, k = 3, 4, 5
    loss = MixSKDLoss(feat_channels=[c, c], tau=2.0, adversarial=False)
    logits = [torch.randn(2 * n, k) for _ in range(2)]
    fi = [torch.randn(n, c, 2, 2) for _ in range(2)]
    fm = [torch.randn(n, c, 2, 2) for _ in range(2)]
    gi, gm = torch.randn(n, k), torch.randn(n, k)
    scores = torch.rand(n, k).softmax(1)
    lam, perm = 0.7, torch.tensor([2, 0, 1])
    out = loss(logits=logits, feats_interp=fi, feats_mixed=fm,
               ensemble_interp=gi, ensemble_mixed=gm, target=scores,
               lam=lam, perm=perm)

    def ce(z, s):
        return -(s * z.log_softmax(1)).sum(1).mean()

    def kl(student, teacher, t=2.0):
        p = (teacher / t).softmax(1)
        return (p * (p.log() - (student / t).log_softmax(1))).sum(1).mean() \
            * t * t

    ms = lam * scores + (1 - lam) * scores[perm]
    zi = [lam * z[:n] + (1 - lam) * z[:n][perm] for z in logits]
    torch.testing.assert_close(out['loss_cls'],
                               sum(ce(z[:n], scores) for z in logits))
    torch.testing.assert_close(
        out['loss_mixup_cls'],
        sum(ce(z[n:], ms) for z in logits) + ce(gi, ms) + ce(gm, ms))
    torch.testing.assert_close(
        out['loss_kd'],
        kl(zi[1], gm) + kl(logits[1][n:], gi) + kl(zi[0], logits[0][n:]) +
        kl(logits[0][n:], zi[0]))
    torch.testing.assert_close(
        out['loss_feat'], sum(((a - b)**2).mean() for a, b in zip(fi, fm)))
    bce = 0
    for disc, a, b in zip(loss.discriminators, fi, fm):
        p = disc(torch.cat([a, b]).mean((2, 3))).sigmoid()
        t = torch.tensor([[1., 0.]] * n + [[0., 1.]] * n)
        bce = bce - (t * p.log() + (1 - t) * (1 - p).log()).mean()
    torch.testing.assert_close(out['loss_adv'], bce)
    # labels = their one-hot scores
    labels = torch.tensor([1, 4, 0])
    a = loss(logits=logits, feats_interp=fi, feats_mixed=fm,
             ensemble_interp=gi, ensemble_mixed=gm, target=labels, lam=lam,
             perm=perm)
    b = loss(logits=logits, feats_interp=fi, feats_mixed=fm,
             ensemble_interp=gi, ensemble_mixed=gm,
             target=nn.functional.one_hot(labels, k).float(), lam=lam,
             perm=perm)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


@pytest.mark.parametrize('weight', [
    'cls_weight', 'mixup_cls_weight', 'kd_weight', 'feat_weight',
    'adv_weight'
])
def test_each_weight_scales_its_term(weight):
    torch.manual_seed(0)
    n, c, k = 2, 3, 4
    inputs = dict(
        logits=[torch.randn(2 * n, k) for _ in range(2)],
        feats_interp=[torch.randn(n, c, 1, 1) for _ in range(2)],
        feats_mixed=[torch.randn(n, c, 1, 1) for _ in range(2)],
        ensemble_interp=torch.randn(n, k),
        ensemble_mixed=torch.randn(n, k),
        target=torch.tensor([0, 3]),
        lam=0.4,
        perm=torch.tensor([1, 0]))
    torch.manual_seed(1)
    base = MixSKDLoss(feat_channels=[c, c])(**inputs)
    torch.manual_seed(1)
    scaled = MixSKDLoss(feat_channels=[c, c], **{weight: 0.5})(**inputs)
    term = {'cls_weight': 'loss_cls', 'mixup_cls_weight': 'loss_mixup_cls',
            'kd_weight': 'loss_kd', 'feat_weight': 'loss_feat',
            'adv_weight': 'loss_adv'}[weight]
    for key in base:
        factor = 0.5 if key == term else 1.0
        torch.testing.assert_close(scaled[key], factor * base[key])


def test_tau_and_disc_hidden():
    loss = MixSKDLoss(feat_channels=[8, 8, 8], tau=4.0, disc_hidden=16)
    assert loss.kd.tau == 4.0
    assert loss.num_paths == 3
    assert [d[0].out_features for d in loss.discriminators] == [16] * 3
    assert loss.discriminators[1][0].in_features == 8


def test_loss_errors():
    with pytest.raises(ValueError, match='feat_channels'):
        MixSKDLoss(feat_channels=[8])
    with pytest.raises(ValueError, match='disc_hidden'):
        MixSKDLoss(feat_channels=[8, 8], disc_hidden=0)
    with pytest.raises(TypeError, match='adversarial'):
        MixSKDLoss(feat_channels=[8, 8], adversarial=1)
    for arg in ('cls_weight', 'mixup_cls_weight', 'kd_weight', 'feat_weight',
                'adv_weight'):
        with pytest.raises(ValueError, match=f'^{arg} must be'):
            MixSKDLoss(feat_channels=[8, 8], **{arg: -1})
    loss = MixSKDLoss(feat_channels=[3, 3])
    good = dict(
        logits=[torch.randn(4, 5)] * 2,
        feats_interp=[torch.randn(2, 3, 1, 1)] * 2,
        feats_mixed=[torch.randn(2, 3, 1, 1)] * 2,
        ensemble_interp=torch.randn(2, 5),
        ensemble_mixed=torch.randn(2, 5),
        target=torch.tensor([0, 1]),
        lam=0.5,
        perm=torch.tensor([1, 0]))
    loss(**good)
    for key, value, match in (
            ('logits', [torch.randn(4, 5)], 'one tensor per path'),
            ('logits', [torch.randn(2, 5)] * 2, r'\(2N, classes\)'),
            ('feats_mixed', [torch.randn(2, 4, 1, 1)] * 2, 'feats_interp'),
            ('target', torch.tensor([0, 1, 2]), 'target'),
            ('lam', 1.5, 'lam')):
        with pytest.raises(ValueError, match=match):
            loss(**{**good, key: value})


def test_branches_are_fresh_copies_of_the_later_stages():
    torch.manual_seed(0)
    model = MixSKDClassifier(
        backbone=dict(type='ResNet', depth=18, stem_channels=16,
                      base_channels=16),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=128),
        branch_stages=[1, 0])
    assert model.branch_stages == (0, 1)
    model.init_weights()
    for b, first in zip(model.branches, (1, 2)):
        keys = {k.split('.')[0] for k in b.state_dict()}
        assert keys == {f'layer{i + 1}' for i in range(first, 4)}
    # own weights, the backbone's init (mmpretrain's Kaiming for convs)
    w = model.branches[0].layer4[0].conv1.weight
    assert not torch.equal(w, model.backbone.layer4[0].conv1.weight)
    assert not torch.equal(w, model.branches[1].layer4[0].conv1.weight)
    fan_out = w.size(0) * w[0, 0].numel()
    assert w.std().item() == pytest.approx((2 / fan_out)**0.5, rel=0.1)
    # the paths: final logits = the plain classifier's
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    logits, maps = model.forward_paths(x)
    assert len(logits) == 3 and [m.shape[1] for m in maps] == [128] * 3
    torch.testing.assert_close(logits[-1], model(x, mode='tensor'))
    # a branch = the backbone's later stages run with the branch's weights
    for name in ('layer3', 'layer4'):
        getattr(model.branches[1], name).load_state_dict(
            getattr(model.backbone, name).state_dict())
    _, maps = model.forward_paths(x)
    torch.testing.assert_close(maps[1], maps[2])


def test_branches_of_an_mmvitplug_backbone():
    """A flat DeiT: stages are blocks; a branch continues from block k's
    tokens with its own later blocks and final norm."""
    torch.manual_seed(0)
    model = MixSKDClassifier(
        backbone=dict(
            type='mmvitplug.DeiT',
            arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                      feedforward_channels=64),
            img_size=32, patch_size=8),
        neck=None,
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32),
        branch_stages=[1])
    model.init_weights()
    branch = model.branches[0]
    names = {n.split('.')[0] for n, _ in branch.named_parameters()}
    assert 'patch_embed' not in names and 'cls_token' not in names
    assert len(list(branch.blocks[1].parameters())) == 0
    assert len(list(branch.blocks[2].parameters())) > 0
    branch.load_state_dict(model.backbone.state_dict(), strict=False)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    logits, maps = model.forward_paths(x)
    torch.testing.assert_close(maps[0], maps[1])
    torch.testing.assert_close(logits[-1], model(x, mode='tensor'))


def test_drop_front_errors():
    backbone = MODELS.build(
        dict(type='mmvitplug.DeiT',
             arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                       feedforward_channels=64),
             img_size=32, patch_size=8))
    for bad in (0, 4, True, 1.0):
        with pytest.raises(ValueError, match=r'num_stages must be an int in '
                           r'\[1, 3\]'):
            backbone.drop_front(bad)


def test_predict_with_ensemble():
    torch.manual_seed(0)
    model = cifar_r18(predict_with='ensemble')
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    _, maps = model.forward_paths(x)
    pred = model.predict(x)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in pred]),
        model.ensemble_head(maps).softmax(1))
    model.predict_with = 'final'
    pred = model.predict(x)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in pred]),
        model(x, mode='tensor').softmax(1))


def test_alpha_draws_the_mixup_ratio():
    model = cifar_r18(alpha=0.4)
    np.random.seed(3)
    lam, perm = model.draw_mixup(8, torch.device('cpu'))
    np.random.seed(3)
    assert lam == np.random.beta(0.4, 0.4)
    assert sorted(perm.tolist()) == list(range(8))


def test_checkpoint_loads_into_a_plain_classifier():
    torch.manual_seed(0)
    model = cifar_r18()
    plain = ImageClassifier(
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    state = {
        k: v
        for k, v in model.state_dict().items()
        if k.split('.')[0] in ('backbone', 'neck', 'head')
    }
    missing = plain.load_state_dict(state, strict=True)
    assert not missing.missing_keys


def test_classifier_errors():
    base = dict(
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    for kwargs, match in (
        (dict(branch_stages=[3]), r'ints in \[0, 2\]'),
        (dict(branch_stages=[1, 1]), 'distinct'),
        (dict(branch_stages=[]), 'distinct'),
        (dict(alpha=0), 'alpha'),
        (dict(predict_with='best'), "choose from 'final', 'ensemble'"),
        (dict(train_cfg=dict(augments=dict(type='Mixup', alpha=0.2))),
         'mixes each batch itself'),
        (dict(head=dict(base['head'], loss=dict(type='CrossEntropyLoss'))),
         'head.loss'),
        (dict(head=dict(type='LinearClsHead', num_classes=10)),
         'in_channels'),
        (dict(loss=dict(type='mmvitplug.MixSKDLoss', feat_channels=[512] *
                        3)), 'built for 3 paths'),
    ):
        with pytest.raises(ValueError, match=match):
            MixSKDClassifier(**{**base, **kwargs})
    with pytest.raises(TypeError, match='ResNet'):
        MixSKDClassifier(**{
            **base, 'backbone': dict(type='VGG', depth=11, out_indices=(4, ))
        })
    model = MixSKDClassifier(**{
        **base, 'head': dict(type='LinearClsHead', num_classes=10,
                             in_channels=256)
    })
    with pytest.raises(ValueError, match='in_channels is 256'):
        model.forward_paths(torch.randn(1, 3, 32, 32))


def test_revcol_cannot_branch():
    with pytest.raises(NotImplementedError, match='column by column'):
        MixSKDClassifier(
            backbone=dict(type='mmvitplug.RevCol', **TINY_KWARGS['RevCol'],
                          arch=TINY_ARCHS['RevCol']),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=8))


def test_branches_start_fresh_and_trainable(tmp_path):
    """A pretrained or partly frozen backbone: its branches are new
    (the backbone's default init, no checkpoint) and trainable."""
    ckpt = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': {}}, ckpt)
    model = MixSKDClassifier(
        backbone=dict(type='ResNet_CIFAR', depth=18, frozen_stages=1,
                      init_cfg=dict(type='Pretrained', checkpoint=ckpt)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    assert model.backbone.frozen_stages == 1
    for branch in model.branches:
        assert branch.frozen_stages == -1
        assert [c['type'] for c in branch.init_cfg] == ['Kaiming', 'Constant']
        assert all(p.requires_grad for p in branch.parameters())
