# Copyright (c) mmvitplug contributors.
"""DeepCluster and DeeperCluster: PCA-whitening, k-means, relabelling,
uniform sampling over clusters, head re-initialisation, the clustering
hook (NMI logging, optimizer state), hierarchical targets and routing."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from sklearn.metrics import normalized_mutual_info_score

import mmvitplug.datasets.cluster_sampler as cluster_sampler
import mmvitplug.models.selfsup.deepercluster as deepercluster_module
from mmvitplug.datasets import UniformClusterSampler
from mmvitplug.datasets.cluster_sampler import uniform_cluster_indices
from mmvitplug.engine.hooks import DeepClusterHook
from mmvitplug.engine.hooks.deepcluster import assignment_stats
from mmvitplug.models.heads import DeeperClusterHead
from mmvitplug.models.selfsup.deepcluster import (compact_labels,
                                                  pca_whiten_l2, run_kmeans)
from mmvitplug.models.selfsup.deepercluster import rotate_batch

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
BACKBONE = dict(type='mmvitplug.DeiT', arch=TINY, img_size=16, patch_size=8,
                out_type='cls_token')


def build(cfg):
    init_default_scope('mmpretrain')
    return MODELS.build(cfg)


def deepcluster(**kwargs):
    cfg = dict(type='mmvitplug.DeepCluster', backbone=BACKBONE,
               head=dict(type='LinearClsHead', in_channels=32),
               num_clusters=6, pca_dim=8)
    cfg.update(kwargs)
    return build(cfg)


def deepercluster(**kwargs):
    cfg = dict(type='mmvitplug.DeeperCluster', backbone=BACKBONE,
               head=dict(type='mmvitplug.DeeperClusterHead', in_channels=32),
               num_clusters=6, num_super_clusters=2, pca_dim=8)
    cfg.update(kwargs)
    return build(cfg)


def blobs(centers, per_center, scale=0.01, seed=0):
    """Points around each center, in center order."""
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=np.float64)
    return np.concatenate([
        c + scale * rng.standard_normal((per_center, len(c)))
        for c in centers
    ])


# ---------------------------------------------------------------------------
# PCA-whitening + L2


def test_pca_whitening_hand_computed():
    # centred, covariance diag(4, 1): whitened coordinates are (+-1, +-1),
    # so every entry is +-1/sqrt(2) after L2 (without whitening (2, 1)
    # would normalise to (0.894, 0.447))
    x = np.array([[2., 1.], [-2., 1.], [2., -1.], [-2., -1.]])
    out = pca_whiten_l2(x, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.abs(out), 1 / math.sqrt(2), rtol=1e-5)
    # the first component is the high-variance axis (x[:, 0]), up to sign
    sign = np.sign(out[0, 0])
    np.testing.assert_allclose(out[:, 0] * sign * math.sqrt(2),
                               [1, -1, 1, -1], rtol=1e-5)
    np.testing.assert_allclose(
        pca_whiten_l2(x, 1)[:, 0] * sign, [1, -1, 1, -1], rtol=1e-6)


def test_pca_whitening_matches_numpy_svd():
    """Reference: faiss' PCAMatrix(eigen_power=-0.5) restated with numpy
    (biased covariance from the SVD of the centred data), then L2."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16))
    x += 5.0
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    eig = s**2 / len(x)
    ref = xc @ vt[:8].T / np.sqrt(eig[:8])
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    out = pca_whiten_l2(x, 8)
    signs = np.sign((out * ref).sum(0))  # eigenvector signs are arbitrary
    np.testing.assert_allclose(out * signs, ref, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)


def test_pca_dim_is_checked():
    with pytest.raises(ValueError, match='lower pca_dim'):
        pca_whiten_l2(np.zeros((10, 4)), 8)


# ---------------------------------------------------------------------------
# k-means and relabelling


def test_compact_labels_hand_computed():
    # non-empty clusters 2, 7, 9 -> 0, 1, 2 in increasing cluster id
    np.testing.assert_array_equal(compact_labels([7, 2, 7, 9]), [1, 0, 1, 2])


def test_kmeans_finds_separated_clusters():
    x = blobs([[0, 0], [10, 0], [0, 10]], 20)
    labels, inertia = run_kmeans(x, 3, 20, seed=3)
    truth = np.repeat(np.arange(3), 20)
    assert normalized_mutual_info_score(truth, labels) == pytest.approx(1.0)
    assert inertia < 1e-3  # points are ~0.01 from their centers
    with pytest.raises(ValueError, match='lower num_clusters'):
        run_kmeans(x, 61, 20, seed=0)


def test_fewer_distinct_points_than_clusters_leave_no_label_gap():
    x = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct points, 12 images
    with pytest.warns(Warning):  # scikit-learn: fewer distinct clusters
        assignments, _ = run_kmeans(x, 5, 20, seed=0)
    labels = compact_labels(assignments)
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    assert normalized_mutual_info_score(np.repeat(np.arange(3), 4),
                                        labels) == pytest.approx(1.0)


def test_deepcluster_cluster_uses_pca_then_kmeans():
    model = deepcluster(num_clusters=3, pca_dim=2)
    x = blobs([[0, 0, 0], [5, 0, 0], [0, 5, 0]], 10, scale=0.5)
    labels, info = model.cluster(x, seed=0)
    assert labels.dtype == np.int64 and labels.shape == (30, )
    assert set(labels.tolist()) == {0, 1, 2}
    assert normalized_mutual_info_score(np.repeat(np.arange(3), 10),
                                        labels) == pytest.approx(1.0)
    assert info['kmeans_inertia'] > 0


# ---------------------------------------------------------------------------
# uniform sampling over clusters


def test_uniform_indices_hand_computed():
    # clusters 0 (5 images), 1 (3 images), 3 (1 image); 2 is empty
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 3])
    indices = uniform_cluster_indices(labels, 11, np.random.default_rng(0))
    assert len(indices) == 11
    # 11 // 3 + 1 = 4 draws per non-empty cluster, 12 cut to 11
    counts = np.bincount(labels[indices], minlength=4)
    assert counts[2] == 0
    assert sorted(counts[[0, 1, 3]].tolist()) == [3, 4, 4]
    # 5 images > 4 draws: without replacement; 1 image: with replacement
    drawn0 = indices[labels[indices] == 0]
    assert len(set(drawn0.tolist())) == len(drawn0)
    assert set(indices[labels[indices] == 3].tolist()) == {8}


def test_uniform_indices_balance_unbalanced_clusters():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    indices = uniform_cluster_indices(labels, 999, np.random.default_rng(1))
    counts = np.bincount(labels[indices])
    assert counts.tolist() == [333, 333, 333]  # 999 // 3 + 1 = 334, cut 3
    # the 900-image cluster gives 333 distinct images, the 10-image one
    # repeats
    assert len(set(indices[labels[indices] == 0].tolist())) == 333


def test_sampler_shards_one_global_list_per_rank(monkeypatch):
    labels = np.array([0] * 7 + [1] * 3 + [2] * 1)  # 11 images
    samplers = []
    for rank in range(2):
        monkeypatch.setattr(cluster_sampler, 'get_dist_info',
                            lambda rank=rank: (rank, 2))
        sampler = UniformClusterSampler(list(range(11)), seed=5)
        sampler.set_labels(labels)
        sampler.set_epoch(3)
        samplers.append(sampler)
    assert [len(s) for s in samplers] == [6, 6]
    glob = samplers[0].global_indices()
    assert len(glob) == 12
    assert list(samplers[0]) == glob[0::2]
    assert list(samplers[1]) == glob[1::2]
    samplers[0].set_epoch(4)
    assert samplers[0].global_indices() != glob  # new order each epoch


def test_sampler_needs_labels():
    sampler = UniformClusterSampler(list(range(4)), seed=0)
    with pytest.raises(RuntimeError, match='DeepClusterHook'):
        list(sampler)
    with pytest.raises(ValueError, match='3'):
        sampler.set_labels([0, 1, 2])


# ---------------------------------------------------------------------------
# the model


def test_head_reinitialisation():
    model = deepcluster(head_init_std=0.01)
    fc = model.head.fc
    assert fc.out_features == 6  # num_classes = num_clusters
    with torch.no_grad():
        fc.weight.fill_(1.0)
        fc.bias.fill_(1.0)
    model.reset_head(seed=7)
    expected = torch.empty(6, 32).normal_(
        0, 0.01, generator=torch.Generator().manual_seed(7))
    assert torch.equal(fc.weight, expected)
    assert torch.equal(fc.bias, torch.zeros(6))
    other = deepcluster(head_init_std=0.01)
    other.reset_head(seed=7)  # same seed, same head (every DDP rank)
    assert torch.equal(other.head.fc.weight, fc.weight)
    other.reset_head(seed=8)
    assert not torch.equal(other.head.fc.weight, fc.weight)
    wide = deepcluster(head_init_std=0.5)
    wide.reset_head(seed=7)
    assert torch.allclose(wide.head.fc.weight, expected * 50)


def test_head_num_classes_must_match():
    with pytest.raises(ValueError, match='num_clusters'):
        deepcluster(head=dict(type='LinearClsHead', in_channels=32,
                              num_classes=5))
    with pytest.raises(ValueError, match='num_clusters'):
        deepcluster(num_clusters=1)


def _samples(indices, gt=None):
    out = []
    for i, idx in enumerate(indices):
        sample = DataSample(metainfo=dict(sample_idx=idx))
        if gt is not None:
            sample.set_gt_label(gt[i])
        out.append(sample)
    return out


def test_loss_is_cross_entropy_on_pseudo_labels_by_sample_idx():
    torch.manual_seed(0)
    model = deepcluster()
    model.set_pseudo_labels(np.array([5, 4, 3, 2, 1, 0]))
    inputs = torch.randn(3, 3, 16, 16)
    # the true labels (9) must be ignored
    losses = model.loss(inputs, _samples([0, 2, 5], gt=[9, 9, 9]))
    logits = model.head.fc(model.extract_feat(inputs))
    expected = F.cross_entropy(logits, torch.tensor([5, 3, 0]))
    assert losses['loss'].item() == pytest.approx(expected.item(), rel=1e-6)
    losses['loss'].backward()
    assert model.backbone.cls_token.grad.abs().sum() > 0


def test_loss_without_labels_names_the_hook():
    model = deepcluster()
    with pytest.raises(RuntimeError, match='DeepClusterHook'):
        model.loss(torch.randn(1, 3, 16, 16), _samples([0]))


def test_featmap_backbone_is_refused():
    model = deepcluster(backbone=dict(BACKBONE, out_type='featmap'))
    with pytest.raises(ValueError, match='avg_featmap'):
        model.extract_feat(torch.randn(1, 3, 16, 16))


# ---------------------------------------------------------------------------
# the hook


def test_assignment_stats_hand_computed():
    labels = np.array([0, 0, 1, 1])
    stats = assignment_stats(labels)
    assert stats == dict(clusters_used=2.0, largest_cluster=0.5)
    stats = assignment_stats(labels, previous=np.array([1, 1, 0, 0]),
                             gt_labels=np.array([0, 1, 0, 1]))
    assert stats['nmi_prev'] == pytest.approx(1.0)  # same partition
    assert stats['nmi_gt'] == pytest.approx(0.0)  # independent
    assert assignment_stats(np.array([2, 2, 2, 0]))['largest_cluster'] == (
        0.75)


class _Loader(list):
    """Batches in pseudo-collate format, and the dataset length."""

    def __init__(self, batches, n):
        super().__init__(batches)
        self.dataset = list(range(n))


def _runner(model, n, name):
    params = [
        dict(params=model.backbone.parameters()),
        dict(params=model.head.parameters()),
    ]
    wrapper = OptimWrapper(torch.optim.AdamW(params, lr=1e-3))
    return SimpleNamespace(
        model=model,
        optim_wrapper=wrapper,
        train_dataloader=SimpleNamespace(
            sampler=UniformClusterSampler(list(range(n)), seed=0)),
        message_hub=MessageHub.get_instance(name),
        logger=MMLogger.get_instance(name),
        epoch=0)


def test_hook_reassigns_resets_head_state_and_logs_nmi():
    torch.manual_seed(0)
    n = 12
    model = deepcluster(num_clusters=3)
    images = [torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)
              for _ in range(n)]
    gt = [i % 2 for i in range(n)]
    batches = [
        dict(inputs=images[i:i + 5], data_samples=_samples(
            range(i, min(i + 5, n)), gt[i:i + 5])) for i in range(0, n, 5)
    ]
    hook = DeepClusterHook(extract_pipeline=[], seed=100)
    hook._loader = _Loader(batches, n)
    runner = _runner(model, n, 'test_deepcluster_hook')

    # one training step so that every parameter has optimizer state
    loss = sum(p.sum() for p in model.parameters())
    runner.optim_wrapper.update_params(loss)
    state = runner.optim_wrapper.optimizer.state
    head_params = list(model.head.parameters())
    assert all(p in state for p in head_params)

    hook.before_train_epoch(runner)
    first = hook.labels.copy()
    assert first.shape == (n, )
    assert torch.equal(model.pseudo_labels, torch.as_tensor(first))
    np.testing.assert_array_equal(runner.train_dataloader.sampler.labels,
                                  first)
    assert not any(p in state for p in head_params)  # head state dropped
    assert model.backbone.cls_token in state  # the backbone's kept
    expected_head = torch.empty(3, 32).normal_(
        0, 0.01, generator=torch.Generator().manual_seed(100))
    assert torch.equal(model.head.fc.weight, expected_head)
    hub = runner.message_hub
    assert hub.get_scalar('train/nmi_gt').current() == pytest.approx(
        normalized_mutual_info_score(gt, first))
    assert hub.get_scalar('train/clusters_used').current() == len(
        set(first.tolist()))
    assert 'train/nmi_prev' not in hub.log_scalars

    runner.epoch = 1
    with torch.no_grad():
        model.backbone.cls_token.add_(1.0)  # change the features
    hook.before_train_epoch(runner)
    assert hub.get_scalar('train/nmi_prev').current() == pytest.approx(
        normalized_mutual_info_score(first, hook.labels))


def test_hook_interval_keeps_the_assignment_between_clusterings():
    n = 8
    model = deepcluster(num_clusters=2)
    batches = [
        dict(inputs=[torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)
                     for _ in range(n)],
             data_samples=_samples(range(n)))
    ]
    hook = DeepClusterHook(extract_pipeline=[], interval=3, seed=0)
    hook._loader = _Loader(batches, n)
    runner = _runner(model, n, 'test_deepcluster_interval')
    calls = []
    original = hook.reassign
    hook.reassign = lambda r: (calls.append(r.epoch), original(r))
    for epoch in range(7):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
    assert calls == [0, 3, 6]
    # a resumed run gets its labels back from the checkpoint
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    resumed = DeepClusterHook(extract_pipeline=[], interval=3)
    resumed.after_load_checkpoint(runner, ckpt)
    np.testing.assert_array_equal(resumed.labels, hook.labels)


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match='exactly one'):
        DeepClusterHook()
    with pytest.raises(ValueError, match='interval'):
        DeepClusterHook(extract_pipeline=[], interval=0)


# ---------------------------------------------------------------------------
# DeeperCluster


def test_hierarchical_targets_hand_computed():
    model = deepercluster(num_clusters=15, num_super_clusters=3)
    assert model.num_sub_clusters == 5
    assert model.head.num_super_classes == 12  # 4 rotations x 3
    labels = torch.tensor([0, 5, 7, 13])  # (c, sub): (0,0) (1,0) (1,2) (2,3)
    supers, subs = model.hierarchical_targets(labels,
                                              torch.tensor([0, 1, 2, 3]))
    assert supers.tolist() == [0, 5, 6, 11]  # c * 4 + rotation
    assert subs.tolist() == [0, 0, 2, 3]
    flat = deepercluster(num_clusters=15, num_super_clusters=3,
                         rotation=False)
    assert flat.head.num_super_classes == 3
    assert flat.hierarchical_targets(labels, None)[0].tolist() == [0, 1, 1, 2]
    with pytest.raises(ValueError, match='multiple'):
        deepercluster(num_clusters=10, num_super_clusters=3)


def test_sub_head_routing_and_loss():
    torch.manual_seed(0)
    head = DeeperClusterHead(in_channels=4, num_super_classes=3,
                             num_sub_classes=2)
    feats = torch.randn(5, 4)
    supers = torch.tensor([2, 0, 2, 1, 0])
    subs = torch.tensor([1, 0, 0, 1, 1])
    logits = head.sub_logits(feats, supers)
    for i in range(5):
        s = supers[i]
        expected = feats[i] @ head.sub_weight[s].T + head.sub_bias[s]
        assert torch.allclose(logits[i], expected)
    losses = head.loss(feats, supers, subs)
    super_ce = F.cross_entropy(feats @ head.super_fc.weight.T +
                               head.super_fc.bias, supers)
    sub_ce = sum(
        F.cross_entropy(
            (feats[i] @ head.sub_weight[supers[i]].T +
             head.sub_bias[supers[i]])[None], subs[i:i + 1])
        for i in range(5)) / 5
    assert losses['loss_super'].item() == pytest.approx(super_ce.item())
    assert losses['loss_sub'].item() == pytest.approx(sub_ce.item())
    # a super-class absent from the batch gets no gradient
    supers = torch.tensor([0, 0, 2, 2, 0])
    head.loss(feats, supers, subs)['loss_sub'].backward()
    grad = head.sub_weight.grad
    assert grad[1].abs().sum() == 0
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0


def test_head_init_bound_and_reset():
    head = DeeperClusterHead(in_channels=16, num_super_classes=4,
                             num_sub_classes=8)
    for p in head.parameters():
        assert p.abs().max() <= 0.25  # nn.Linear: 1 / sqrt(16)
    before = head.super_fc.weight.clone()
    head.reset_parameters(torch.Generator().manual_seed(0),
                          super_layer=False)
    assert torch.equal(head.super_fc.weight, before)
    # C == 1: the super-class layer (rotations only) is kept, as official
    model = deepercluster(num_clusters=4, num_super_clusters=1)
    before = model.head.super_fc.weight.clone()
    sub_before = model.head.sub_weight.clone()
    model.reset_head(1)
    assert torch.equal(model.head.super_fc.weight, before)
    assert not torch.equal(model.head.sub_weight, sub_before)
    model = deepercluster(num_clusters=4, num_super_clusters=2)
    before = model.head.super_fc.weight.clone()
    model.reset_head(1)
    assert not torch.equal(model.head.super_fc.weight, before)


def test_rotation_is_the_official_rotate_img():
    img = np.array([[1., 2.], [3., 4.]])
    official_90 = np.flipud(np.transpose(img))  # rotate_img(img, 90)
    official_180 = np.fliplr(np.flipud(img))
    official_270 = np.transpose(np.flipud(img))
    x = torch.tensor(img).expand(4, 1, 2, 2)
    out = rotate_batch(x, torch.tensor([0, 1, 2, 3]))
    for k, ref in enumerate([img, official_90, official_180, official_270]):
        np.testing.assert_array_equal(out[k, 0].numpy(), ref)
    with pytest.raises(ValueError, match='square'):
        rotate_batch(torch.zeros(1, 1, 2, 3), torch.tensor([1]))


def test_deepercluster_hierarchical_clustering(monkeypatch):
    # 2 far-apart groups of 3 blobs each: super-clusters = groups, then
    # sub-clusters = blobs inside each group; the PCA-whitening (tested
    # above) is bypassed so that the geometry is the one written here
    monkeypatch.setattr(deepercluster_module, 'pca_whiten_l2',
                        lambda x, dim: x)
    centers = [[0, 0], [1, 0], [0, 1], [50, 50], [51, 50], [50, 51]]
    x = blobs(centers, 10, scale=0.02)
    model = deepercluster(num_clusters=6, num_super_clusters=2)
    labels, info = model.cluster(x, seed=0)
    supers, subs = labels // 3, labels % 3
    assert normalized_mutual_info_score(np.repeat([0, 1], 30),
                                        supers) == pytest.approx(1.0)
    # sub-clusters nest in their super-cluster: 3 per group, ids c * 3 + j
    group_of = np.repeat([0, 1], 30)
    for label in set(labels.tolist()):
        assert len(set(group_of[labels == label].tolist())) == 1
    assert sorted(set(labels.tolist())) == list(range(6))
    assert set(subs.tolist()) == {0, 1, 2}
    assert info['super_clusters_used'] == 2
    assert info['small_super_clusters'] == 0
    # a super-cluster smaller than k_sub: one sub-cluster per image
    model = deepercluster(num_clusters=20, num_super_clusters=2)
    labels, info = model.cluster(x[:32], seed=0)  # groups of 30 and 2
    assert info['small_super_clusters'] == 1
    assert len(set(labels.tolist())) == 12


def test_deepercluster_loss_trains_backbone():
    torch.manual_seed(0)
    model = deepercluster(num_clusters=4, num_super_clusters=2)
    model.set_pseudo_labels(np.array([0, 1, 2, 3]))
    losses = model.loss(torch.randn(4, 3, 16, 16), _samples([0, 1, 2, 3]))
    assert set(losses) == {'loss_super', 'loss_sub'}
    sum(losses.values()).backward()
    assert model.backbone.cls_token.grad.abs().sum() > 0
    assert model.head.sub_weight.grad.abs().sum() > 0
