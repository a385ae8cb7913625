# Copyright (c) mmvitplug contributors.
"""SEER: Sinkhorn-Knopp codes and the SwAV loss against hand-computed
values, the distributed Sinkhorn over 2 processes against the whole batch
in one, SEER's head settings, and the algorithm with mmpretrain's SwAV
pieces (SwAVHead, SwAVHook)."""
import math
import os.path as osp

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
from mmpretrain.models.losses.swav_loss import \
    distributed_sinkhorn as mmpretrain_sinkhorn

from mmvitplug.models.heads import SEERNeck
from mmvitplug.models.losses import SEERLoss
from mmvitplug.models.losses.seer import distributed_sinkhorn
from mmvitplug.registry import MODELS

TINY_REGNETY = dict(type='mmvitplug.RegNetY',
                    arch=dict(w0=8, wa=10, wm=2., depth=5, group_width=8))


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# ------------------------------------------------------- Sinkhorn-Knopp
def test_sinkhorn_symmetric_scores_by_hand():
    """exp(S / eps) = [[e^2, 1], [1, e^2]] is already balanced: each
    sample's codes are its row normalised, (sigmoid(2), sigmoid(-2))."""
    scores = torch.tensor([[0.1, 0.], [0., 0.1]])
    for iters in (1, 3, 10):
        q = distributed_sinkhorn(scores, iters, epsilon=0.05)
        expected = torch.tensor([[sigmoid(2), sigmoid(-2)],
                                 [sigmoid(-2), sigmoid(2)]])
        torch.testing.assert_close(q, expected)


def test_sinkhorn_additive_scores_give_uniform_codes():
    """s_bk = a_b + c_k: exp factorises, the balanced plan is uniform, so
    every code is 1 / K after one iteration."""
    a = torch.tensor([0.3, -0.2, 0.5, 0.1])[:, None]
    c = torch.tensor([0.2, -0.4, 0.0])[None]
    q = distributed_sinkhorn(a + c, 1, epsilon=0.05)
    torch.testing.assert_close(q, torch.full((4, 3), 1 / 3))


def test_sinkhorn_marginals_and_mmpretrain_reuse():
    """A fixed 4 x 3 matrix: each sample's codes sum to 1 and, after enough
    iterations, each prototype gets B / K of the mass; in one process the
    codes equal mmpretrain's ``distributed_sinkhorn``."""
    scores = torch.tensor([[0.9, 0.1, -0.3], [0.7, 0.2, 0.1],
                           [-0.5, 0.8, 0.3], [0.1, -0.2, 0.6]])
    q = distributed_sinkhorn(scores, 200, epsilon=0.5)
    torch.testing.assert_close(q.sum(1), torch.ones(4))
    torch.testing.assert_close(q.sum(0), torch.full((3, ), 4 / 3))
    for iters in (1, 3, 10):
        torch.testing.assert_close(
            distributed_sinkhorn(scores, iters, 0.05),
            mmpretrain_sinkhorn(scores.clone(), iters, 1, 0.05))


def test_sinkhorn_does_not_overflow():
    """Scores / eps beyond float32's exp range (exp(100)): the shift by the
    maximum keeps the codes those of the shifted scores; mmpretrain's
    overflow to NaN. Low-precision scores give float32 codes."""
    scores = torch.tensor([[5.0, 4.9], [4.9, 5.0]])
    q = distributed_sinkhorn(scores, 3, epsilon=0.05)
    torch.testing.assert_close(
        q, distributed_sinkhorn(scores - 4.9, 3, epsilon=0.05))
    torch.testing.assert_close(q[0], torch.tensor([sigmoid(2), sigmoid(-2)]))
    assert torch.isnan(mmpretrain_sinkhorn(scores.clone(), 3, 1, 0.05)).any()
    assert distributed_sinkhorn(scores.bfloat16(), 3, 0.05).dtype == \
        torch.float32


def _dist_worker(rank, init_file, scores, out_dir):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    try:
        half = scores[rank * 3:(rank + 1) * 3]
        ours = distributed_sinkhorn(half, 3, 0.05)
        theirs = mmpretrain_sinkhorn(half.clone(), 3, 2, 0.05)
        torch.save({'ours': ours, 'mmpretrain': theirs},
                   osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_distributed_sinkhorn_normalises_over_the_global_batch(tmp_path):
    """2 processes with 3 samples each give the codes of the 6 samples in
    one process. mmpretrain 1.2.0's do not: it all-reduces the prototype
    sums only when one of them is zero, so each process balances the
    prototypes over its own samples."""
    torch.manual_seed(0)
    scores = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    scores[:3, 0] += 0.5  # the processes see different samples
    mp.spawn(_dist_worker, args=(str(tmp_path / 'init'), scores,
                                 str(tmp_path)), nprocs=2, join=True)
    res = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True)
           for r in range(2)]
    whole = distributed_sinkhorn(scores, 3, 0.05)
    torch.testing.assert_close(torch.cat([r['ours'] for r in res]), whole)
    theirs = torch.cat([r['mmpretrain'] for r in res])
    assert (theirs - whole).abs().max() > 1e-3


# ---------------------------------------------------------------- loss
def loss_with_identity_prototypes(**kwargs):
    loss = SEERLoss(feat_dim=2, num_prototypes=2, **kwargs)
    with torch.no_grad():
        loss.prototypes.weight.copy_(torch.eye(2))
    return loss


def test_loss_on_hand_made_codes():
    """Prototypes e1, e2; crop 0 = [e1, e2] (scores / eps = [[2, 0],
    [0, 2]] with eps 0.5: codes (sigmoid(2), sigmoid(-2)) and mirrored);
    crop 1 = [(0.6, 0.8), (0.8, 0.6)] predicts them with logits / 0.1 =
    [6, 8] (mirrored): -sum q log p = 2 sigmoid(2) + log(1 + e^-2) for each
    sample."""
    loss = loss_with_identity_prototypes(
        sinkhorn_iterations=3, epsilon=0.5, crops_for_assign=[0],
        num_crops=[2])
    x = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8], [0.8, 0.6]])
    expected = 2 * sigmoid(2) + math.log(1 + math.exp(-2))
    assert loss(x).item() == pytest.approx(expected, rel=1e-5)
    # no-collapse statistics of crop 0: both prototypes are a best match,
    # each code has the entropy of (sigmoid(2), sigmoid(-2))
    p = sigmoid(2)
    assert loss.stats['prototypes_used'].item() == 2
    assert loss.stats['code_entropy'].item() == pytest.approx(
        -p * math.log(p) - (1 - p) * math.log(1 - p), rel=1e-5)
    loss(torch.tensor([[1., 0.], [1., 0.], [0.6, 0.8], [0.8, 0.6]]))
    assert loss.stats['prototypes_used'].item() == 1  # collapsed
    # both crops assign: crop 1's codes (sigmoid(-2), sigmoid(2))... are
    # predicted by crop 0 with logits [10, 0]: -sum q log p =
    # sigmoid(2) * 10 + log(1 + e^-10) for each sample; the mean of the two
    loss = loss_with_identity_prototypes(
        sinkhorn_iterations=3, epsilon=0.5, crops_for_assign=[0, 1],
        num_crops=[2])
    s = torch.tensor([[0.6, 0.8], [0.8, 0.6]]) / 0.5
    q1 = torch.softmax(s, dim=1)  # balanced already (symmetric)
    logp0 = torch.log_softmax(torch.eye(2) / 0.1, dim=1)
    second = -(q1 * logp0).sum(1).mean().item()
    assert second == pytest.approx(
        sigmoid(0.4) * 10 + math.log(1 + math.exp(-10)), rel=1e-5)
    assert loss(x).item() == pytest.approx((expected + second) / 2,
                                           rel=1e-5)


def test_loss_averages_over_the_other_crops():
    """With 3 crops, crop 0's codes are predicted by crops 1 and 2: the
    loss is the mean of the two cross-entropies."""
    x = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8], [0.8, 0.6], [1., 0.],
                      [0., 1.]])
    three = loss_with_identity_prototypes(
        sinkhorn_iterations=3, epsilon=0.5, crops_for_assign=[0],
        num_crops=[1, 2])(x)
    first = 2 * sigmoid(2) + math.log(1 + math.exp(-2))
    q = torch.tensor([sigmoid(2), sigmoid(-2)])
    second = -(q * torch.log_softmax(torch.tensor([10., 0.]), 0)).sum()
    assert three.item() == pytest.approx((first + second.item()) / 2,
                                         rel=1e-5)


def test_prototypes_are_normalised_and_get_gradients():
    torch.manual_seed(0)
    loss = SEERLoss(feat_dim=4, num_prototypes=5, num_crops=[2, 1])
    x = nn.functional.normalize(torch.randn(6, 4), dim=1).requires_grad_()
    loss(x).backward()
    torch.testing.assert_close(loss.prototypes.weight.norm(dim=1),
                               torch.ones(5))
    assert loss.prototypes.weight.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_loss_in_float32_under_autocast():
    torch.manual_seed(0)
    loss = SEERLoss(feat_dim=8, num_prototypes=6, num_crops=[2, 2])
    x = nn.functional.normalize(torch.randn(8, 8), dim=1)
    ref = loss(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = loss(x.bfloat16())
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(ref.item(), abs=0.05)


def test_queue_is_used_once_full():
    """mmpretrain's queue semantics (filled by SwAVHook): the queue's
    scores join the Sinkhorn only once its last row is filled; the newest
    embeddings go first."""
    torch.manual_seed(0)
    loss = SEERLoss(feat_dim=4, num_prototypes=3, num_crops=[2],
                    crops_for_assign=[0])
    loss.queue = torch.zeros(1, 4, 4)
    batches = [nn.functional.normalize(torch.randn(4, 4), dim=1)
               for _ in range(3)]
    loss(batches[0])
    assert not loss.use_queue
    torch.testing.assert_close(loss.queue[0, :2], batches[0][:2])
    loss(batches[1])
    assert not loss.use_queue  # full only after this call
    torch.testing.assert_close(loss.queue[0, :2], batches[1][:2])
    torch.testing.assert_close(loss.queue[0, 2:], batches[0][:2])
    queue = loss.queue[0].clone()
    codes = []
    loss.codes = lambda s: codes.append(s) or distributed_sinkhorn(
        s, loss.sinkhorn_iterations, loss.epsilon)
    loss(batches[2])
    assert loss.use_queue
    assert codes[0].shape == (6, 3)  # 4 queued + 2 new
    torch.testing.assert_close(codes[0][:4],
                               queue @ loss.prototypes.weight.t())


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_prototypes=[3, 4]), 'positive int'),
    (dict(crops_for_assign=[2], num_crops=[2]), r'crop indices in \[0, 2\)'),
    (dict(crops_for_assign=[0], num_crops=[1]), 'at least 2 crops'),
])
def test_loss_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SEERLoss(feat_dim=4, **kwargs)


def test_loss_refuses_a_batch_that_is_not_the_crops():
    loss = SEERLoss(feat_dim=4, num_prototypes=3, num_crops=[2, 4])
    with pytest.raises(ValueError, match='7 embeddings are not 6 crops'):
        loss(torch.randn(7, 4))


# ------------------------------------------------------ SEER head settings
def test_seer_head_settings():
    """vissl heads/d10444_d8192_d8192_d256_proto16k.yaml: Linear(C, 8192),
    ReLU, Linear(8192, 8192), ReLU, Linear(8192, 256), no BN, 16000
    prototypes; SEER's 10 Sinkhorn iterations, eps 0.05, T 0.1, 2 + 4
    crops, codes of crops 0 and 1."""
    with torch.device('meta'):
        neck = SEERNeck(in_channels=10444)
        loss = SEERLoss(feat_dim=256)
    layers = list(neck.projection_head)
    assert [type(m) for m in layers] == [nn.Linear, nn.ReLU, nn.Linear,
                                         nn.ReLU, nn.Linear]
    assert [(m.in_features, m.out_features) for m in layers[::2]] == [
        (10444, 8192), (8192, 8192), (8192, 256)]
    assert all(m.bias is not None for m in layers[::2])
    assert neck.with_l2norm
    assert loss.prototypes.weight.shape == (16000, 256)
    assert loss.prototypes.bias is None
    assert (loss.sinkhorn_iterations, loss.epsilon, loss.temperature) == (
        10, 0.05, 0.1)
    assert loss.num_crops == [2, 4] and loss.crops_for_assign == [0, 1]


def test_neck_pooling_norm_and_errors():
    torch.manual_seed(0)
    neck = SEERNeck(in_channels=4, hid_channels=[6, 5], out_channels=3)
    maps = torch.randn(2, 4, 3, 3)
    z = neck([(maps, ), (torch.randn(3, 4, 2, 2), )])
    assert z.shape == (5, 3)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    pooled = maps.mean((2, 3))
    torch.testing.assert_close(neck([(pooled, )]), z[:2])
    torch.testing.assert_close(neck([maps.flatten(2).transpose(1, 2)]),
                               z[:2])
    assert neck([((torch.randn(2, 4, 3, 3), pooled), )]).shape == (2, 3)
    raw = SEERNeck(4, 6, 3, num_layers=2, with_l2norm=False,
                   norm_cfg=dict(type='BN1d'))
    assert isinstance(raw.projection_head[1], nn.BatchNorm1d)
    assert not torch.allclose(raw.eval()([(pooled, )]).norm(dim=1),
                              torch.ones(2))
    assert len(SEERNeck(4, 6, 3, num_layers=1).projection_head) == 1
    with pytest.raises(ValueError, match='needs 2'):
        SEERNeck(4, [6], 3)
    with pytest.raises(ValueError, match='num_layers must be >= 1'):
        SEERNeck(4, 6, 3, num_layers=0)
    with pytest.raises(ValueError, match='got shape'):
        neck([torch.randn(2, 4, 3, 3, 1)])


def test_seer_regnety_32gf_model_size():
    """The SEER RG-32GF model: trunk 141.3M + the proto16k head."""
    with torch.device('meta'):
        model = MODELS.build(seer_cfg(
            dict(type='mmvitplug.RegNetY', arch='regnety-320'), 3712,
            hid=8192, out=256, prototypes=16000))
    n = sum(p.numel() for p in model.parameters())
    head = 3712 * 8192 + 8192 + 8192 * 8192 + 8192 + 8192 * 256 + 256
    assert n == 141_333_770 + head + 256 * 16000


# ----------------------------------------------------------- algorithm
def seer_cfg(backbone, in_channels, hid=16, out=8, prototypes=4,
             num_crops=(2, 4)):
    return dict(
        type='mmvitplug.SEER',
        data_preprocessor=dict(type='SelfSupDataPreprocessor'),
        backbone=backbone,
        neck=dict(type='mmvitplug.SEERNeck', in_channels=in_channels,
                  hid_channels=hid, out_channels=out),
        head=dict(type='mmpretrain.SwAVHead', loss=dict(
            type='mmvitplug.SEERLoss', feat_dim=out,
            num_prototypes=prototypes, num_crops=list(num_crops))))


@pytest.mark.parametrize('backbone, channels, sizes', [
    (TINY_REGNETY, 64, (32, 32, 16, 16, 16, 16)),
    # any backbone of the contract: a DeiT's class token
    (dict(type='mmvitplug.DeiT', arch=dict(
        embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=32, patch_size=8, out_type='cls_token'), 32, (32, 32)),
])
def test_seer_trains_any_backbone(backbone, channels, sizes):
    torch.manual_seed(0)
    crops = (2, len(sizes) - 2) if len(sizes) > 2 else (2, )
    model = MODELS.build(seer_cfg(backbone, channels, num_crops=crops))
    assert type(model).pretrained_backbone == 'backbone'
    assert any(k.startswith('backbone.') for k in model.state_dict())
    inputs = [torch.randn(4, 3, s, s) for s in sizes]
    losses = model.loss(inputs, [None] * 4)
    assert set(losses) == {'loss', 'prototypes_used', 'code_entropy'}
    assert torch.isfinite(losses['loss'])
    assert 1 <= losses['prototypes_used'].item() <= 4
    losses['loss'].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.head.loss_module.prototypes.weight.grad.abs().sum() > 0


def test_seer_needs_neck_and_head():
    with pytest.raises(ValueError, match='SEER needs a neck'):
        MODELS.build(dict(seer_cfg(TINY_REGNETY, 64), neck=None))


def test_swav_hook_freezes_prototypes_and_sets_the_queue():
    """mmpretrain's SwAVHook works on SEER: it finds the loss through
    ``head.loss_module`` and the prototypes by name."""
    from mmpretrain.engine.hooks import SwAVHook
    model = MODELS.build(seer_cfg(TINY_REGNETY, 64))

    class Runner:
        pass

    runner = Runner()
    runner.model, runner.iter, runner.epoch, runner.world_size = \
        model, 0, 3, 1
    hook = SwAVHook(batch_size=4, epoch_queue_starts=3, feat_dim=8,
                    queue_length=16, frozen_layers_cfg=dict(prototypes=2))
    hook.queue_length -= hook.queue_length % hook.batch_size
    hook.before_train_iter(runner, 0)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ['head.loss_module.prototypes.weight']
    hook.before_train_epoch(runner)
    assert model.head.loss_module.queue.shape == (2, 16, 8)
    runner.iter = 2
    hook.before_train_iter(runner, 2)
    assert all(p.requires_grad for p in model.parameters())
