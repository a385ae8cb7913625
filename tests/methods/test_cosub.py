# Copyright (c) mmvitplug contributors.
"""cosub: two stochastic-depth submodels co-trained (CoSubClassifier +
CoSubLoss)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

# importing the modules registers them (until the package __init__ does)
from mmvitplug.layers.drop import DropPath
from mmvitplug.models.classifiers.cosub import CoSubClassifier
from mmvitplug.models.losses.cosub import CoSubLoss

ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


def model_cfg(drop_path_rate=0.6, loss=None, **kwargs):
    cfg = dict(
        type='mmvitplug.CoSubClassifier',
        backbone=dict(
            type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
            drop_path_rate=drop_path_rate),
        head=dict(
            type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=32),
        **kwargs)
    if loss is not None:
        cfg['loss'] = loss
    return cfg


def samples(labels):
    return [DataSample().set_gt_label(int(i)) for i in labels]


def bce(logits, target):
    """Binary cross-entropy with logits, mean over samples and classes."""
    p = logits.sigmoid()
    return -(target * p.log() + (1 - target) * (1 - p).log()).mean()


def soft_ce(logits, target):
    """Cross-entropy against a distribution, mean over samples."""
    return -(target * logits.log_softmax(1)).sum(1).mean()


# ---------------------------------------------------------------- submodels


def test_two_submodels_differ_per_sample():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(drop_path_rate=0.6)).train()
    drops = []  # one (2N,) bool tensor per DropPath call: sample dropped

    def record(module, args, out):
        drops.append((out.flatten(1) == 0).all(1) & (args[0].flatten(1) != 0)
                     .any(1))

    paths = [m for m in model.modules() if isinstance(m, DropPath)]
    # block 0 has rate 0 (linear rule): its drop paths are nn.Identity
    assert len(paths) == 2 * (ARCH['num_layers'] - 1)
    for m in paths:
        m.register_forward_hook(record)
    logits = []
    model.head.register_forward_hook(
        lambda module, args, out: logits.append(out))
    num = 32
    inputs = torch.randn(num, 3, 32, 32)
    model.loss(inputs, samples(torch.arange(num) % NUM_CLASSES))

    masks = torch.stack(drops, dim=1)  # (2N, paths): blocks skipped
    first, second = masks[:num], masks[num:]
    same_path = (first == second).all(1)
    # most images get two different submodels, and only those two copies
    # differ in their logits (same image, same path -> same logits)
    assert same_path.float().mean() < 0.2, same_path
    logits1, logits2 = logits[0][:num], logits[0][num:]
    close = torch.isclose(logits1, logits2, atol=1e-5).all(1)
    assert torch.equal(close, same_path)
    # which blocks are skipped changes from sample to sample
    assert len({tuple(row.tolist()) for row in first}) > num // 2
    # every drop path skips some samples and keeps others
    assert masks.any(0).all() and not masks.all(0).any()


def test_both_halves_see_the_same_images_and_targets(monkeypatch):
    model = MODELS.build(model_cfg()).train()
    seen = {}

    def record(module, args, out):
        seen['inputs'] = args[0]

    model.backbone.register_forward_hook(record)
    forward = CoSubLoss.forward

    def spy(self, logits1, logits2, target=None, **kwargs):
        seen.update(logits1=logits1, logits2=logits2, target=target)
        return forward(self, logits1, logits2, target, **kwargs)

    monkeypatch.setattr(CoSubLoss, 'forward', spy)
    inputs = torch.randn(3, 3, 32, 32)
    scores = torch.rand(3, NUM_CLASSES)
    data = [DataSample().set_gt_score(s) for s in scores]
    losses = model.loss(inputs, data)
    assert set(losses) == {'loss_label', 'loss_mutual'}
    assert torch.equal(seen['inputs'], torch.cat([inputs, inputs]))
    assert seen['logits1'].shape == seen['logits2'].shape == (3, NUM_CLASSES)
    assert torch.equal(seen['target'], scores)


def test_no_stochastic_depth_raises():
    with pytest.raises(ValueError, match=r'model\.backbone\.drop_path_rate'):
        MODELS.build(model_cfg(drop_path_rate=0.))


def test_loss_is_the_classifiers():
    """The classifier owns its loss (default CoSubLoss) and calls it by
    keyword; the head's loss is not used, so configuring it is an error."""
    model = MODELS.build(model_cfg())
    assert isinstance(model.loss_module, CoSubLoss)
    assert model.loss_module.lam == 0.5
    assert dict(model.named_children())['loss_module'] is model.loss_module
    model = MODELS.build(model_cfg(loss=dict(type='mmvitplug.CoSubLoss',
                                             lam=0.2)))
    assert model.loss_module.lam == 0.2
    cfg = model_cfg()
    cfg['head']['loss'] = dict(type='mmvitplug.CoSubLoss')
    with pytest.raises(ValueError, match='model.head.loss is not used'):
        MODELS.build(cfg)
    with pytest.raises(TypeError, match='loss config dict'):
        MODELS.build(model_cfg(loss='CoSubLoss'))
    # a loss without the keyword arguments of the protocol is refused
    wrong = MODELS.build(model_cfg(loss=dict(type='CrossEntropyLoss')))
    with pytest.raises(TypeError, match=r"inputs \['logits1', 'logits2', "
                       r"'target'\], which do not fit"):
        wrong.loss(torch.randn(2, 3, 32, 32), samples([0, 1]))
    cfg = model_cfg()
    cfg['head']['cal_acc'] = True
    with pytest.raises(ValueError, match='cal_acc'):
        MODELS.build(cfg)
    # a plain classifier calls the loss with one set of logits
    cfg = model_cfg()
    cfg['type'] = 'ImageClassifier'
    cfg['head']['loss'] = dict(type='mmvitplug.CoSubLoss')
    plain = MODELS.build(cfg)
    with pytest.raises(TypeError, match='mmvitplug.CoSubClassifier'):
        plain.loss(torch.randn(2, 3, 32, 32), samples([0, 1]))


def test_predict_is_the_full_network():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(drop_path_rate=0.6)).eval()
    cfg = model_cfg()
    cfg['type'] = 'ImageClassifier'
    plain = MODELS.build(cfg).eval()  # no cosub loss at all
    plain.load_state_dict(model.state_dict())  # same keys, strictly
    inputs = torch.randn(4, 3, 32, 32)
    out = model(inputs, mode='tensor')
    torch.testing.assert_close(model(inputs, mode='tensor'), out)
    torch.testing.assert_close(plain(inputs, mode='tensor'), out)
    preds = model.predict(inputs)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]), out.softmax(1))


def test_neck():
    cfg = model_cfg(neck=dict(type='GlobalAveragePooling'))
    cfg['backbone']['out_type'] = 'featmap'
    model = MODELS.build(cfg).train()
    feats = []
    model.head.register_forward_pre_hook(
        lambda module, args: feats.append(args[0]))
    losses = model.loss(torch.randn(2, 3, 32, 32), samples([0, 1]))
    assert feats[0][-1].shape == (4, 32)  # pooled feature maps, 2 copies
    assert all(torch.isfinite(v) for v in losses.values())


def test_cait_backbone():
    cfg = model_cfg()
    cfg['backbone'] = dict(
        type='mmvitplug.CaiT', arch=dict(ARCH, init_values=0.1),
        img_size=32, patch_size=8, drop_path_rate=0.3)
    model = MODELS.build(cfg).train()
    losses = model.loss(torch.randn(2, 3, 32, 32), samples([0, 1]))
    assert all(torch.isfinite(v) for v in losses.values())
    cfg['backbone']['drop_path_rate'] = 0.
    with pytest.raises(ValueError, match='drop_path_rate'):
        MODELS.build(cfg)


# --------------------------------------------------------------------- loss


def test_mutual_gradient_only_reaches_the_student():
    torch.manual_seed(0)
    loss = CoSubLoss(lam=0.5)
    s1 = torch.randn(4, NUM_CLASSES, requires_grad=True)
    s2 = torch.randn(4, NUM_CLASSES, requires_grad=True)
    # the term where s2 teaches s1: no gradient reaches s2
    loss.mutual(s1, s2).backward()
    assert s2.grad is None
    assert s1.grad.abs().sum() > 0
    # the whole mutual loss: each side gets only its student gradient,
    # d/ds_i lam/2 * BCE(s_i, sigmoid(s_j)) = lam/2 (sig(s_i) - sig(s_j)) / NC
    s1.grad = None
    loss(s1, s2, torch.tensor([0, 1, 2, 3]))['loss_mutual'].backward()
    numel = s1.numel()
    expected1 = 0.25 * (s1.sigmoid() - s2.sigmoid()) / numel
    torch.testing.assert_close(s1.grad, expected1.detach())
    torch.testing.assert_close(s2.grad, -expected1.detach())


def test_mutual_ce_gradient_only_reaches_the_student():
    torch.manual_seed(0)
    loss = CoSubLoss(lam=0.8, label_loss=dict(type='CrossEntropyLoss'),
                     mutual_loss='ce')
    s1 = torch.randn(4, NUM_CLASSES, requires_grad=True)
    s2 = torch.randn(4, NUM_CLASSES, requires_grad=True)
    loss(s1, s2, torch.tensor([0, 1, 2, 3]))['loss_mutual'].backward()
    expected1 = 0.4 * (s1.softmax(1) - s2.softmax(1)) / 4
    torch.testing.assert_close(s1.grad, expected1.detach())
    torch.testing.assert_close(s2.grad, -expected1.detach())


def test_loss_matches_formula_with_soft_labels():
    s1 = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
    s2 = torch.tensor([[1.0, 0.0, -0.5], [-1.0, 2.0, 0.3]])
    mixed = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]])  # Mixup
    out = CoSubLoss(lam=0.3)(s1, s2, mixed)
    label = 0.35 * (bce(s1, mixed) + bce(s2, mixed))
    mutual = 0.15 * (bce(s1, s2.sigmoid()) + bce(s2, s1.sigmoid()))
    torch.testing.assert_close(out['loss_label'], label)
    torch.testing.assert_close(out['loss_mutual'], mutual)

    # the paper's lam=0.5 is the official code: four BCE terms at 0.25
    out = CoSubLoss()(s1, s2, mixed)
    crit = torch.nn.BCEWithLogitsLoss()
    official = 0.25 * (crit(s1, mixed) + crit(s2, mixed) +
                       crit(s1, s2.sigmoid()) + crit(s2, s1.sigmoid()))
    torch.testing.assert_close(out['loss_label'] + out['loss_mutual'],
                               official)


def test_loss_matches_formula_with_hard_labels_and_ce():
    s1 = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
    s2 = torch.tensor([[1.0, 0.0, -0.5], [-1.0, 2.0, 0.3]])
    labels = torch.tensor([0, 2])
    onehot = F.one_hot(labels, 3).float()
    # indices become one-hot scores for the sigmoid label loss
    out = CoSubLoss(lam=0.)(s1, s2, labels)
    torch.testing.assert_close(out['loss_label'],
                               0.5 * (bce(s1, onehot) + bce(s2, onehot)))
    assert out['loss_mutual'] == 0
    # softmax label loss and 'ce' mutual loss
    out = CoSubLoss(lam=0.6, label_loss=dict(type='CrossEntropyLoss'),
                    mutual_loss='ce')(s1, s2, labels)
    torch.testing.assert_close(
        out['loss_label'], 0.2 * (soft_ce(s1, onehot) + soft_ce(s2, onehot)))
    torch.testing.assert_close(
        out['loss_mutual'],
        0.3 * (soft_ce(s1, s2.softmax(1)) + soft_ce(s2, s1.softmax(1))))


def test_identical_submodels_have_no_mutual_gradient():
    s = torch.randn(3, NUM_CLASSES, requires_grad=True)
    out = CoSubLoss(lam=1.0)(s, s.detach().clone(), torch.tensor([0, 1, 2]))
    out['loss_mutual'].backward()
    torch.testing.assert_close(s.grad, torch.zeros_like(s))


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(lam=1.5), ValueError, r'lam must be a number in \[0, 1\]'),
    (dict(lam=-0.1), ValueError, r'\[0, 1\]'),
    (dict(lam='half'), ValueError, 'lam must be a number'),
    (dict(mutual_loss='kl'), ValueError, "choose from 'bce', 'ce'"),
    (dict(label_loss='CrossEntropyLoss'), TypeError, 'loss config dict'),
    (dict(label_loss=dict(use_sigmoid=True)), TypeError, 'with a type'),
])
def test_bad_args(kwargs, error, match):
    with pytest.raises(error, match=match):
        CoSubLoss(**kwargs)


def test_bad_call():
    loss = CoSubLoss()
    with pytest.raises(TypeError, match='two submodels'):
        loss(torch.randn(2, 3), torch.tensor([0, 1]), avg_factor=2)
    with pytest.raises(TypeError, match='two submodels'):
        loss(torch.randn(2, 3), torch.randn(2, 4), torch.tensor([0, 1]))


# ----------------------------------------------------------------- training


def test_one_training_step_updates_every_parameter():
    torch.manual_seed(0)
    model = MODELS.build(
        model_cfg(
            drop_path_rate=0.3,
            data_preprocessor=dict(num_classes=NUM_CLASSES),
            train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8)]))).train()
    assert isinstance(model, CoSubClassifier)
    before = copy.deepcopy(model.state_dict())
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    data = dict(
        inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                for _ in range(8)],
        data_samples=samples(torch.arange(8) % NUM_CLASSES))
    data = model.data_preprocessor(data, training=True)
    assert 'gt_score' in data['data_samples'][0]  # mixed targets
    losses = model(**data, mode='loss')
    total = losses['loss_label'] + losses['loss_mutual']
    optim.zero_grad()
    total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    optim.step()
    after = model.state_dict()
    for name, _ in model.named_parameters():
        assert not torch.equal(before[name], after[name]), name
