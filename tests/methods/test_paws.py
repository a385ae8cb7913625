# Copyright (c) mmvitplug contributors.
"""PAWS: loss against hand-computed values and the official code, support
labels, labelled subsets, class-stratified support batches, the batch
layout through collate + preprocessor, the algorithm's anchors / targets,
soft nearest-neighbour evaluation."""
import math
import os.path as osp
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

import mmvitplug  # noqa: F401  (registers)
from mmvitplug.datasets.paws import (LabeledSubset, PAWSBatchSampler,
                                     PAWSDataset)
from mmvitplug.evaluation.snn import SNNAccuracy, snn_predict
from mmvitplug.models.heads.paws_head import PAWSHead
from mmvitplug.models.losses.paws import (PAWSLoss, sharpen,
                                          support_label_matrix)
from mmvitplug.models.selfsup.paws import PAWS, PAWSDataPreprocessor

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')
#: exp(sim / TAU3) = 3 ** sim: similarities 1 and 0 give weights 3 and 1
TAU3 = 1 / math.log(3)
log = math.log

# ---------------------------------------------------------------------------
# loss, by hand: 2 classes, 2 supports, 1 unlabelled image
#
# supports (1, 0) of class 0 and (0, 1) of class 1, labels = identity,
# tau = 1 / ln 3, T = 0.5:
#   snn((1, 0)) = (3, 1) / 4 = (0.75, 0.25), sharpened (0.5625, 0.0625) /
#   0.625 = (0.9, 0.1); snn((0, 1)) = (0.25, 0.75) -> (0.1, 0.9).
# target views: view 1 (1, 0), view 2 (0, 1); swapped, view 1 must predict
# (0.1, 0.9) and view 2 (0.9, 0.1). Anchors: view 1 (1, 0) -> p (0.75,
# 0.25), view 2 (0, 1) -> p (0.25, 0.75).

SUPPORTS = torch.tensor([[1., 0.], [0., 1.]])
LABELS = torch.eye(2)
TARGET_VIEWS = torch.tensor([[1., 0.], [0., 1.]])


def _loss(**kwargs):
    kwargs = dict(dict(tau=TAU3, sharpen_temperature=0.5), **kwargs)
    return PAWSLoss(**kwargs)


def test_sharpen_by_hand():
    p = torch.tensor([[0.75, 0.25]])
    assert torch.allclose(sharpen(p, 0.5), torch.tensor([[0.9, 0.1]]))
    # T = 0.25 (paper): 0.75^4 / (0.75^4 + 0.25^4) = 81 / 82
    assert torch.allclose(sharpen(p, 0.25), torch.tensor([[81 / 82, 1 / 82]]))


def test_loss_no_multicrop_by_hand():
    anchors = torch.tensor([[1., 0.], [0., 1.]])
    paws, me_max = _loss()(anchors, SUPPORTS, LABELS, TARGET_VIEWS, SUPPORTS)
    # both views: -(0.1 log 0.75 + 0.9 log 0.25) (the targets are swapped;
    # unswapped it would be -(0.9 log 0.75 + 0.1 log 0.25) = 0.398)
    assert paws.item() == pytest.approx(-(0.1 * log(0.75) + 0.9 * log(0.25)),
                                        abs=1e-6)
    # sharpened p: (0.9, 0.1), (0.1, 0.9); mean (0.5, 0.5): sum p log p
    assert me_max.item() == pytest.approx(log(0.5), abs=1e-6)


def test_loss_multicrop_by_hand():
    # a small view (1, 0): p = (0.75, 0.25); its target is the mean of the
    # two large targets (0.5, 0.5)
    anchors = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    paws, me_max = _loss()(anchors, SUPPORTS, LABELS, TARGET_VIEWS, SUPPORTS)
    large = -(0.1 * log(0.75) + 0.9 * log(0.25))
    small = -(0.5 * log(0.75) + 0.5 * log(0.25))
    assert paws.item() == pytest.approx((2 * large + small) / 3, abs=1e-6)
    # sharpened p: (0.9, 0.1), (0.1, 0.9), (0.9, 0.1); mean (1.9, 1.1) / 3
    a, b = 1.9 / 3, 1.1 / 3
    assert me_max.item() == pytest.approx(a * log(a) + b * log(b), abs=1e-6)


def test_loss_me_max_off_and_weight():
    anchors = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    paws, me_max = _loss(me_max=False)(anchors, SUPPORTS, LABELS,
                                       TARGET_VIEWS, SUPPORTS)
    assert me_max.item() == 0
    paws2, _ = _loss(me_max=False, loss_weight=2.)(anchors, SUPPORTS, LABELS,
                                                   TARGET_VIEWS, SUPPORTS)
    assert paws2.item() == pytest.approx(2 * paws.item())


def test_loss_zeroes_small_targets_without_renormalising():
    # zero_below 0.2 zeroes the 0.1 entries: targets (0, 0.9) and (0.9, 0)
    anchors = torch.tensor([[1., 0.], [0., 1.]])
    paws, _ = _loss(zero_below=0.2)(anchors, SUPPORTS, LABELS, TARGET_VIEWS,
                                    SUPPORTS)
    assert paws.item() == pytest.approx(-0.9 * log(0.25), abs=1e-6)
    # the official threshold 1e-4 leaves them
    paws, _ = _loss()(anchors, SUPPORTS, LABELS, TARGET_VIEWS, SUPPORTS)
    assert paws.item() == pytest.approx(-(0.1 * log(0.75) + 0.9 * log(0.25)),
                                        abs=1e-6)


def test_loss_targets_carry_no_gradient():
    anchors = torch.tensor([[1., 0.], [0., 1.]], requires_grad=True)
    targets = TARGET_VIEWS.clone().requires_grad_(True)
    supports = SUPPORTS.clone().requires_grad_(True)
    target_supports = SUPPORTS.clone().requires_grad_(True)
    paws, me_max = _loss()(anchors, supports, LABELS, targets,
                           target_supports)
    (paws + me_max).backward()
    assert anchors.grad.abs().sum() > 0 and supports.grad.abs().sum() > 0
    assert targets.grad is None and target_supports.grad is None


def test_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match='two large views'):
        _loss()(torch.zeros(3, 2), SUPPORTS, LABELS, torch.zeros(3, 2),
                SUPPORTS)
    with pytest.raises(ValueError, match='2 \\+ M views'):
        _loss()(torch.zeros(1, 2), SUPPORTS, LABELS, torch.zeros(2, 2),
                SUPPORTS)
    with pytest.raises(ValueError, match='support labels'):
        _loss()(torch.zeros(2, 2), SUPPORTS, torch.eye(3), TARGET_VIEWS,
                SUPPORTS)
    for bad in (dict(tau=0), dict(sharpen_temperature=-1),
                dict(zero_below=-1)):
        with pytest.raises(ValueError):
            PAWSLoss(**bad)


@pytest.mark.parametrize('case', ['mc0', 'mc2', 'mc2_nomemax'])
def test_loss_matches_official_code(case):
    """``tests/data/paws_loss_golden.pt``: the official ``init_paws_loss``
    (facebookresearch/suncet@731547d ``src/losses.py``, run on CPU in a
    scratch copy, one process) on ``torch.manual_seed(0)`` random inputs:
    B=3 images, D=8, 4 classes x 2 supports, ``make_labels_matrix(4, 2, 1,
    smoothing=0.1)``, tau 0.1, T 0.25, multicrop 0 / 2, me-max on / off;
    the target views were swapped before the call as ``paws_train.py``
    does (ours swaps inside the loss). Stores the losses and the gradients
    of ``ploss + rloss`` w.r.t. the anchors."""
    golden = torch.load(osp.join(DATA, 'paws_loss_golden.pt'))[case]
    views = golden['anchor_views'].clone().requires_grad_(True)
    supports = golden['anchor_supports'].clone().requires_grad_(True)
    loss = PAWSLoss(me_max=case != 'mc2_nomemax')
    paws, me_max = loss(views, supports, golden['labels'],
                        golden['target_views'], golden['target_supports'])
    assert torch.allclose(paws, golden['ploss'], atol=1e-6)
    assert torch.allclose(me_max, golden['rloss'].float(), atol=1e-6)
    (paws + me_max).backward()
    assert torch.allclose(views.grad, golden['grad_views'], atol=1e-6)
    assert torch.allclose(supports.grad, golden['grad_supports'], atol=1e-6)


def test_support_label_matrix_is_the_official_fixed_matrix():
    # class-ordered batch [c1, c2] x 2 images (official make_labels_matrix
    # (2, 2, smoothing=0.1): 0.95 on the class, 0.05 elsewhere)
    labels = torch.tensor([7, 3, 7, 3])
    expected = torch.tensor([[0.95, 0.05], [0.05, 0.95], [0.95, 0.05],
                             [0.05, 0.95]])
    assert torch.allclose(support_label_matrix(labels, 0.1), expected)
    # any order: columns by first appearance, rows follow their labels
    assert torch.allclose(
        support_label_matrix(torch.tensor([3, 3, 7]), 0.),
        torch.tensor([[1., 0.], [1., 0.], [0., 1.]]))
    with pytest.raises(ValueError, match='smoothing'):
        support_label_matrix(labels, 1.)


# ---------------------------------------------------------------------------
# data: labelled subsets, the PAWS dataset and its batch sampler


class _Toy(Dataset):
    """``n_per_class`` items per class, labels cycling 0..C-1; each item
    packed as PackInputs would (``views`` views of 4x4 images whose pixels
    are the index)."""

    def __init__(self, num_classes=4, n_per_class=5, views=2, size=4):
        self.labels = np.arange(num_classes * n_per_class) % num_classes
        self.metainfo = dict(classes=tuple(str(c)
                                           for c in range(num_classes)))
        self.views, self.size = views, size

    def get_gt_labels(self):
        return self.labels

    def get_data_info(self, i):
        return dict(img_path=f'/data/{i:03d}.png')

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        sizes = self.size if isinstance(self.size, list) else \
            [self.size] * self.views
        return dict(
            inputs=[torch.full((3, s, s), i, dtype=torch.uint8)
                    for s in sizes],
            data_samples=DataSample().set_gt_label(int(self.labels[i])))


def test_labeled_subset_per_class_is_deterministic():
    subset = LabeledSubset(_Toy(num_classes=4, n_per_class=5),
                           num_per_class=2, seed=3)
    assert len(subset) == 8
    assert np.bincount(subset.get_gt_labels()).tolist() == [2, 2, 2, 2]
    assert list(subset.get_gt_labels()) == \
        [int(_Toy().labels[i]) for i in subset.indices]
    again = LabeledSubset(_Toy(), num_per_class=2, seed=3)
    other = LabeledSubset(_Toy(), num_per_class=2, seed=4)
    assert list(again.indices) == list(subset.indices)
    assert list(other.indices) != list(subset.indices)
    assert int(subset[0]['inputs'][0][0, 0, 0]) == subset.indices[0]
    with pytest.raises(ValueError, match='fewer than'):
        LabeledSubset(_Toy(n_per_class=5), num_per_class=6)


def test_labeled_subset_fraction_and_files(tmp_path):
    subset = LabeledSubset(_Toy(num_classes=2, n_per_class=10), fraction=0.2)
    assert np.bincount(subset.get_gt_labels()).tolist() == [2, 2]
    # at least one per class
    assert len(LabeledSubset(_Toy(2, 10), fraction=0.01)) == 2
    names = tmp_path / 'names.txt'
    names.write_text('007.png\n003.png\n')  # official ImageNet format
    assert list(LabeledSubset(_Toy(), subset_file=str(names)).indices) == \
        [3, 7]
    ids = tmp_path / 'ids.txt'
    ids.write_text('5\n1\n')  # official CIFAR-10 format
    assert list(LabeledSubset(_Toy(), subset_file=str(ids)).indices) == \
        [1, 5]
    names.write_text('007.png\nnope.png\n')
    with pytest.raises(ValueError, match='not in the dataset'):
        LabeledSubset(_Toy(), subset_file=str(names))
    with pytest.raises(ValueError, match='exactly one'):
        LabeledSubset(_Toy(), num_per_class=1, fraction=0.5)


def _paws_dataset(num_classes=4, n_per_class=5):
    unlabeled = _Toy(num_classes, n_per_class, views=4, size=[4, 4, 2, 2])
    support = LabeledSubset(_Toy(num_classes, n_per_class, views=1),
                            num_per_class=3)
    return PAWSDataset(unlabeled, support)


def _batch_sampler(dataset, rank=0, world_size=1, seed=0, **kwargs):
    sampler = DefaultSampler(dataset, shuffle=True, seed=0)
    kwargs = dict(dict(batch_size=4, classes_per_batch=2,
                       samples_per_class=2), **kwargs)
    # a process of a distributed run, as get_dist_info would say
    with mock.patch('mmvitplug.datasets.paws.get_dist_info',
                    return_value=(rank, world_size)):
        return PAWSBatchSampler(sampler, seed=seed, **kwargs)


def test_batch_sampler_support_order_matches_the_label_matrix():
    dataset = _paws_dataset()
    batches = list(_batch_sampler(dataset))
    assert len(batches) == len(dataset) // 4 == 5
    labels = dataset.support_labels
    seen = set()
    for batch in batches:
        unl, sup = batch[:4], batch[4:]
        assert all(i < len(dataset) for i in unl)
        seen.update(unl)
        classes = [labels[i - len(dataset)] for i in sup]
        # [c1, c2] x 2: the fixed label matrix's order
        assert classes[:2] == classes[2:] and classes[0] != classes[1]
    assert seen == set(range(len(dataset)))
    # one permutation of the 4 classes covers two batches
    first = [labels[i - len(dataset)] for b in batches[:2] for i in b[4:6]]
    assert sorted(first) == [0, 1, 2, 3]
    # deterministic by seed
    assert list(_batch_sampler(dataset)) == batches
    assert list(_batch_sampler(dataset, seed=1)) != batches


def test_batch_sampler_under_ddp():
    dataset = _paws_dataset()
    labels = dataset.support_labels
    n = len(dataset)
    # unique classes: the processes' classes of a batch are disjoint
    ranks = [list(_batch_sampler(dataset, rank=r, world_size=2,
                                 unique_classes=True)) for r in range(2)]
    for b0, b1 in zip(*ranks):
        c0 = {labels[i - n] for i in b0[4:]}
        c1 = {labels[i - n] for i in b1[4:]}
        assert len(c0) == len(c1) == 2 and not c0 & c1
    # shared classes: same classes, disjoint images per process
    ranks = [list(_batch_sampler(dataset, rank=r, world_size=2))
             for r in range(2)]
    images = [set(), set()]
    for b0, b1 in zip(*ranks):
        assert [labels[i - n] for i in b0[4:]] == \
            [labels[i - n] for i in b1[4:]]
        images[0].update(b0[4:])
        images[1].update(b1[4:])
    assert not images[0] & images[1]
    with pytest.raises(ValueError, match='x 2 processes'):
        _batch_sampler(dataset, world_size=2, unique_classes=True,
                       classes_per_batch=3)


def test_batch_sampler_rejects_other_datasets():
    with pytest.raises(TypeError, match='PAWSDataset'):
        PAWSBatchSampler(DefaultSampler(_Toy()), 4, 2, 2)
    with pytest.raises(ValueError, match='but the dataset has 4'):
        PAWSBatchSampler(DefaultSampler(_paws_dataset()), 4, 5, 2)


def test_batch_layout_through_collate_and_preprocessor():
    dataset = _paws_dataset()
    batch = next(iter(_batch_sampler(dataset)))
    data = pseudo_collate([dataset[i] for i in batch])
    out = PAWSDataPreprocessor()(data)
    sup, unl = out['inputs']['support'], out['inputs']['unlabeled']
    assert len(sup) == 1 and sup[0].shape == (4, 3, 4, 4)
    assert [v.shape for v in unl] == [(4, 3, 4, 4)] * 2 + [(4, 3, 2, 2)] * 2
    # the images are the ones the sampler asked for, in its order
    n = len(dataset)
    support_ids = [dataset.support.indices[i - n] for i in batch[4:]]
    assert sup[0][:, 0, 0, 0].tolist() == support_ids
    assert unl[0][:, 0, 0, 0].tolist() == batch[:4]
    labels = [s.gt_label.item() for s in out['data_samples']['support']]
    assert labels == [int(dataset.support_labels[i - n]) for i in batch[4:]]
    with pytest.raises(ValueError, match='no .unlabeled. images'):
        PAWSDataPreprocessor()(
            pseudo_collate([dataset[i] for i in batch[4:]]))


# ---------------------------------------------------------------------------
# the algorithm

TINY_DEIT = dict(
    type='mmvitplug.DeiT',
    arch=dict(embed_dims=32, num_layers=1, num_heads=2,
              feedforward_channels=64),
    img_size=16, patch_size=8, out_type='cls_token')


def _paws(backbone=TINY_DEIT, in_channels=32, with_predictor=True):
    return PAWS(
        backbone=backbone,
        neck=dict(type='NonLinearNeck', in_channels=in_channels,
                  hid_channels=16, out_channels=8, num_layers=3,
                  with_bias=True, with_last_bias=True, with_last_bn=False,
                  with_avg_pool=False, norm_cfg=dict(type='BN1d')),
        head=dict(type='mmvitplug.PAWSHead', in_channels=8,
                  with_predictor=with_predictor,
                  loss=dict(type='mmvitplug.PAWSLoss')))


def _batch(num_support=4, views=2, small=2, batch=3, support_views=1):
    torch.manual_seed(0)
    inputs = dict(
        support=[torch.randn(num_support, 3, 16, 16)
                 for _ in range(support_views)],
        unlabeled=[torch.randn(batch, 3, 16, 16) for _ in range(views)] +
        [torch.randn(batch, 3, 8, 8) for _ in range(small)])
    samples = dict(
        support=[DataSample().set_gt_label(c % 2)
                 for c in range(num_support)],
        unlabeled=[DataSample() for _ in range(batch)])
    return inputs, samples


def test_anchors_are_z_and_targets_are_detached_h(monkeypatch):
    model = _paws()
    seen = {}

    def record(**kwargs):
        seen.update(kwargs)
        return dict(loss_paws=kwargs['anchor_views'].sum() * 0)

    monkeypatch.setattr(model.head, 'loss', record)
    forwards = []
    model.backbone.register_forward_hook(
        lambda m, i, o: forwards.append(i[0].shape[0]))
    inputs, samples = _batch(support_views=2)
    model.eval()  # BN with running statistics: per-image outputs
    model.loss(inputs, samples)
    # one forward per resolution: 2x4 supports + 2x3 large, then 2x3 small
    assert forwards == [14, 6]
    with torch.no_grad():
        h_sup = model.project(torch.cat(inputs['support']))
        h_views = model.project(torch.cat(inputs['unlabeled'][:2]))
        h_small = model.project(torch.cat(inputs['unlabeled'][2:]))
    atol = dict(atol=1e-5)
    assert torch.allclose(seen['anchor_supports'], model.head(h_sup), **atol)
    assert torch.allclose(seen['anchor_views'],
                          model.head(torch.cat([h_views, h_small])), **atol)
    assert torch.allclose(seen['target_views'], h_views, **atol)
    assert torch.allclose(seen['target_supports'], h_sup, **atol)
    assert not seen['target_views'].requires_grad
    assert not seen['target_supports'].requires_grad
    assert seen['anchor_views'].requires_grad
    # the predictor is what separates anchors from targets
    assert not torch.allclose(seen['anchor_views'][:6], h_views, **atol)
    # labels of the 2 views x 4 supports, classes 0 1 0 1, smoothing 0.1
    assert torch.allclose(seen['support_labels'],
                          torch.tensor([[0.95, 0.05], [0.05, 0.95]] * 4))


@pytest.mark.parametrize('backbone,channels,small', [
    (TINY_DEIT, 32, 2),
    (dict(TINY_DEIT, out_type='avg_featmap'), 32, 2),
    # ResMLP is tied to its input size: no smaller multi-crop views
    (dict(type='mmvitplug.ResMLP',
          arch=dict(embed_dims=24, num_layers=1, feedforward_channels=48,
                    init_values=0.1),
          img_size=16, patch_size=8), 24, 0),
    (dict(type='ResNet', depth=18, base_channels=8, num_stages=2,
          strides=(1, 2), dilations=(1, 1), out_indices=(1, )), 16, 2),
])
def test_trains_any_backbone(backbone, channels, small):
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    model = _paws(backbone, channels)
    inputs, samples = _batch(small=small)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_paws', 'loss_me_max'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.parameters()
             if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_without_predictor_anchors_are_h(monkeypatch):
    model = _paws(with_predictor=False)
    assert model.head.predictor is None
    h = torch.randn(5, 8)
    assert model.head(h) is h
    model.eval()
    seen = {}
    monkeypatch.setattr(
        model.head, 'loss', lambda **kw: seen.update(kw) or
        dict(loss_paws=torch.zeros(())))
    inputs, samples = _batch(small=0)
    model.loss(inputs, samples)
    assert torch.allclose(seen['anchor_views'], seen['target_views'],
                          atol=1e-6)


def test_head_and_model_arguments():
    head = PAWSHead(in_channels=16)
    assert head.predictor[1].out_features == 4  # official 4x bottleneck
    assert PAWSHead(in_channels=16, hid_channels=6).predictor[1] \
        .out_features == 6
    no_me_max = PAWSHead(16, loss=dict(type='mmvitplug.PAWSLoss',
                                       me_max=False))
    z = torch.randn(6, 16)
    losses = no_me_max.loss(z, z[:2], torch.eye(2), z[:6], z[:2])
    assert set(losses) == {'loss_paws'}
    with pytest.raises(ValueError, match='label_smoothing'):
        PAWS(TINY_DEIT, None, dict(type='mmvitplug.PAWSHead',
                                   in_channels=32), label_smoothing=1.)
    model = _paws()
    model.label_smoothing = 0.
    labels = model.support_labels(
        [DataSample().set_gt_label(c) for c in (4, 9)], num_views=2)
    assert torch.equal(labels, torch.tensor([[1., 0.], [0., 1.]] * 2))
    with pytest.raises(TypeError, match='PAWSDataset'):
        model.loss(torch.zeros(2, 3, 16, 16), None)
    assert PAWS.pretrained_backbone == 'backbone'


# ---------------------------------------------------------------------------
# soft nearest-neighbour evaluation


def test_snn_predict_by_hand():
    supports = torch.tensor([[1., 0.], [0., 2.], [0., 1.]])
    labels = torch.tensor([0, 1, 1])
    # query (1, 0): weights 3, 1, 1 -> (3/5, 2/5); query (0, 1): 1, 3, 3
    probs = snn_predict(supports, labels, torch.tensor([[2., 0.], [0., 1.]]),
                        temperature=TAU3, chunk_size=1)
    assert torch.allclose(probs, torch.tensor([[0.6, 0.4], [1 / 7, 6 / 7]]))


def test_snn_accuracy_metric():
    metric = SNNAccuracy(temperature=TAU3, topk=(1, 2))

    def sample(emb, label, bank):
        return dict(embedding=torch.tensor(emb), gt_label=torch.tensor(label),
                    knn_bank=bank)

    metric.process(None, [
        sample([1., 0.], 0, True), sample([0., 2.], 1, True),
        sample([0., 1.], 1, True),
        sample([2., 0.], 0, False),   # (0.6, 0.4): right
        sample([0., 1.], 0, False),   # (1/7, 6/7): wrong, right at top-2
    ])
    assert metric.compute_metrics(metric.results) == \
        dict(top1=50., top2=100.)
    with pytest.raises(KeyError, match='EmbeddingModel'):
        metric.process(None, [dict(gt_label=0, knn_bank=True)])
    with pytest.raises(ValueError, match='queries'):
        metric.compute_metrics(metric.results[:3])
    with pytest.raises(ValueError, match='temperature'):
        SNNAccuracy(temperature=0)
