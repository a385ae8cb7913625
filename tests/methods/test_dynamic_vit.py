# Copyright (c) mmvitplug contributors.
"""DynamicViT (https://arxiv.org/abs/2106.02034): the policy softmax and
the ratio / token losses against hand-computed values, the top-k gather,
the predictor, the keep state of each attention (self, talking-heads,
class, gated positional, sequence pooling) against attention over the kept
tokens alone, training-mode masking against inference-mode gathering for
every supported family (DeiT, CaiT, ConViT, CCT), the
Gumbel decisions, any token grid, the inference keep counts, the lr scale
of the optimizer groups, loading a plain DeiT checkpoint, the supported and
refused backbones, every argument and error; golden parity with the
official ``VisionTransformerDiffPruning`` (values made by running
raoyongming/DynamicViT 1322e62 with timm 1.0.31, the official
``batch_index_select``, a fixed Gumbel noise)."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.layers import (Attention, Block, ClassAttentionBlock,
                              MesaAttend, TalkingHeadsAttention,
                              TokenKeepPredictor, active_keep,
                              batch_index_select, bind_keep, keep_ratios,
                              keep_tokens, key_policy, masked_softmax,
                              record_attention, softmax_with_policy)
from mmvitplug.models.backbones import (CCT, DHVT, ArchNetViT, DynamicViT, PiT,
                                        ResMLP, XCiT)
from mmvitplug.models.backbones.cct import SeqPool
from mmvitplug.models.backbones.convit import GPSA, relative_indices
from mmvitplug.models.losses import DynamicViTRatioLoss, KeptTokenMSELoss
from _builders import (DEIT3_SETTINGS, REPO_ROOT, TEST_DATA, TINY_ARCHS,
                       build_tiny)

CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'dynamic_vit',
                  'dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py')
E2 = math.exp(-2.)
E1 = math.exp(-1.)


def deit(num_layers=4, **kwargs):
    arch = dict(TINY_ARCHS['DeiT'], num_layers=num_layers)
    arch.update(kwargs.pop('arch', {}))
    return dict(
        dict(type='mmvitplug.DeiT', arch=arch, img_size=32, patch_size=8),
        **kwargs)


def dynamic(seed=0, **kwargs):
    kwargs.setdefault('backbone', deit())
    torch.manual_seed(seed)
    model = DynamicViT(**kwargs)
    model.init_weights()
    return model


def family(name, **kwargs):
    """A tiny backbone config of each family DynamicViT prunes, with its
    pruning locations (before two or three of its blocks; ConViT: two GPSA
    blocks and the self-attention block after the class token joins)."""
    tiny = dict(
        deit=(deit(**kwargs), (1, 2, 3)),
        deit_distilled=(deit(distilled=True, **kwargs), (1, 2, 3)),
        cait=(dict(type='mmvitplug.CaiT',
                   arch=dict(TINY_ARCHS['CaiT'], num_layers=4),
                   img_size=32, patch_size=8, **kwargs), (1, 2, 3)),
        convit=(dict(type='mmvitplug.ConViT',
                     arch=dict(TINY_ARCHS['ConViT'], num_layers=5,
                               local_up_to_layer=3),
                     img_size=32, patch_size=8, **kwargs), (1, 2, 4)),
        # 3 x 3 heads of sharp positional attention, each peaked at a
        # neighbour: once it is dropped, its logit lies far above the kept
        # keys' (see softmax_with_policy)
        convit_sharp=(dict(type='mmvitplug.ConViT',
                           arch=dict(embed_dims=36, num_layers=5,
                                     num_heads=9, feedforward_channels=72,
                                     local_up_to_layer=3),
                           img_size=32, patch_size=8, locality_strength=20.,
                           **kwargs), (1, 2, 4)),
        cct=(dict(type='mmvitplug.CCT',
                  arch=dict(TINY_ARCHS['CCT'], num_layers=4), img_size=16,
                  **kwargs), (1, 2, 3)))
    backbone, pruning_loc = tiny[name]
    return dynamic(backbone=backbone, pruning_loc=pruning_loc)


FAMILIES = ['deit', 'deit_distilled', 'cait', 'convit', 'convit_sharp', 'cct']


# ------------------------------------------------------------ primitives
def test_softmax_with_policy_hand_values():
    # query i attends to the kept keys and to itself: token 1 is dropped
    logits = torch.tensor([[0., 1., 2.], [1., 0., 0.], [2., 1., 0.]])
    logits = logits.view(1, 1, 3, 3)
    policy = torch.tensor([[1., 0., 1.]])
    expected = torch.tensor([
        [E2 / (1 + E2), 0., 1 / (1 + E2)],  # key 1 dropped
        [1 / (1 + 2 * E1), E1 / (1 + 2 * E1), E1 / (1 + 2 * E1)],  # self
        [1 / (1 + E2), 0., E2 / (1 + E2)],
    ])
    out = softmax_with_policy(logits, policy, eps=0.)
    torch.testing.assert_close(out[0, 0], expected, atol=1e-7, rtol=0)
    # the official eps: (w + eps / N) / (sum + eps)
    eps = 1e-6
    out = softmax_with_policy(logits, policy[..., None])  # (B, N, 1) too
    row0 = torch.tensor([E2 + eps / 3, eps / 3, 1 + eps / 3])
    row0 = row0 / (1 + E2 + eps)
    torch.testing.assert_close(out[0, 0, 0], row0, atol=1e-9, rtol=1e-6)
    assert out[0, 0, 0, 1] > 0
    # a policy of ones is the softmax (up to eps); float32 inside
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(
        softmax_with_policy(x, torch.ones(2, 5)), x.softmax(-1), atol=1e-5,
        rtol=0)
    half = softmax_with_policy(x.to(torch.bfloat16), torch.ones(2, 5))
    assert half.dtype == torch.bfloat16


def test_softmax_with_policy_of_class_attention_hand_values():
    """Queries that are not the keys (Nq != Nk): no self-loops, the policy
    alone; token 0 (the class token) kept as every token in front."""
    logits = torch.tensor([[0., 1., 2., 3.]]).view(1, 1, 1, 4)
    policy = torch.tensor([[1., 1., 0., 1.]])
    out = softmax_with_policy(logits, policy, eps=0.)[0, 0, 0]
    z = 1 + math.e + math.e**3
    expected = torch.tensor([1 / z, math.e / z, 0., math.e**3 / z])
    torch.testing.assert_close(out, expected, atol=1e-7, rtol=0)


def test_softmax_with_policy_when_a_dropped_key_dominates():
    """A dropped key whose logit exceeds every kept one by far (sharp
    attention, e.g. ConViT's positional attention once a query's
    neighbours are dropped): the kept keys still get softmax over the kept
    keys alone. The official formula subtracts the max over all keys, the
    kept exponentials underflow below eps and the row turns uniform over
    every key (checked here too, so that this test can fail)."""
    logits = torch.tensor([[40., 0., 1.]]).view(1, 1, 1, 3)
    policy = torch.tensor([[0., 1., 1.]])
    out = softmax_with_policy(logits, policy)[0, 0, 0]
    expected = torch.tensor([0., 1., math.e]) / (1 + math.e)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    official = (logits - logits.amax(-1, keepdim=True)).exp() * policy
    official = (official + 1e-6 / 3) / (official.sum(-1, keepdim=True) +
                                        1e-6)
    assert (official[0, 0, 0] - 1 / 3).abs().max() < 1e-3  # uniform
    # a dropped key 100 above: finite weights and policy gradients
    logits = torch.tensor([[100., 0., 1.]]).view(1, 1, 1, 3)
    policy = policy.clone().requires_grad_()
    out = softmax_with_policy(logits, policy)
    (out * torch.tensor([1., 2., 3.])).sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(policy.grad).all()
    assert policy.grad[0, 0] != 0  # keeping key 0 would change the output
    # float64 in, float64 out
    assert softmax_with_policy(logits.double(),
                               policy.detach()).dtype == torch.float64


def test_softmax_with_policy_errors():
    with pytest.raises(ValueError, match='policy must be'):
        softmax_with_policy(torch.zeros(1, 1, 3, 3), torch.ones(1, 4))
    with pytest.raises(ValueError, match='logits must be'):
        softmax_with_policy(torch.zeros(1, 3, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match='eps'):
        softmax_with_policy(torch.zeros(1, 1, 3, 3), torch.ones(1, 3), -1.)


def test_batch_index_select():
    x = torch.arange(12.).view(2, 3, 2)
    index = torch.tensor([[2, 0], [1, 1]])
    out = batch_index_select(x, index)
    assert out.tolist() == [[[4., 5.], [0., 1.]], [[8., 9.], [8., 9.]]]
    flat = batch_index_select(x[..., 0], index)
    assert flat.tolist() == [[4., 0.], [8., 8.]]
    with pytest.raises(ValueError, match='index must be'):
        batch_index_select(x, torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match='x of shape'):
        batch_index_select(x[None], index)


def test_keep_tokens_state_and_errors():
    policy = torch.tensor([[1., 0., 1.]])
    assert active_keep() is None and key_policy(3) is None
    with keep_tokens(policy=policy[..., None]) as state:
        assert active_keep() is state and state.num_patches == 3
        # tokens in front of the patches are kept
        assert key_policy(5).tolist() == [[1., 1., 1., 0., 1.]]
        assert key_policy(3).tolist() == [[1., 0., 1.]]
        with pytest.raises(ValueError, match='an attention has 2 keys'):
            key_policy(2)
        # an attention with its own softmax (Mesa) cannot honour it
        with pytest.raises(RuntimeError, match='cannot be combined'):
            masked_softmax(torch.zeros(1, 1, 3, 3), None,
                           softmax=lambda x, dim: x.softmax(dim))
    assert active_keep() is None
    kept = torch.tensor([[0, 2]])
    with keep_tokens(kept=kept, num_patches=3) as state:
        assert key_policy(3) is None  # inference: tokens are gone
        assert state.kept is kept and state.num_patches == 3
    with pytest.raises(ValueError, match='exactly one'):
        keep_tokens()
    with pytest.raises(ValueError, match='exactly one'):
        keep_tokens(policy, kept)
    with pytest.raises(ValueError, match='policy must be'):
        keep_tokens(policy=torch.ones(3))
    with pytest.raises(ValueError, match='num_patches goes with kept'):
        keep_tokens(policy=policy, num_patches=3)
    with pytest.raises(ValueError, match='kept must be long'):
        keep_tokens(kept=kept.float(), num_patches=3)
    with pytest.raises(ValueError, match='num_patches must be'):
        keep_tokens(kept=kept, num_patches=1)


def test_bind_keep_reenters_the_state():
    assert bind_keep(active_keep) is active_keep  # none active: as is
    policy = torch.ones(1, 2)
    with keep_tokens(policy=policy) as state:
        bound = bind_keep(active_keep)
    assert active_keep() is None and bound() is state


def _attention_cases():
    """(module, its forward on tokens (B, L, C), number of tokens in front of
    the patches in its keys) of each attention that honours the keep
    state."""
    torch.manual_seed(0)
    block = Block(16, 2, init_values=0.5)
    talking = Block(16, 4, init_values=0.5, attn_layer=TalkingHeadsAttention)
    cls_block = ClassAttentionBlock(16, 2, init_values=0.5)
    pool = SeqPool(16)
    torch.nn.init.normal_(pool.weight)
    gpsa = GPSA(16, 4)
    gpsa.local_init()
    torch.nn.init.normal_(gpsa.gating_param)
    return {
        'attention': (block, lambda m, x: m(x), 0),
        'talking-heads': (talking, lambda m, x: m(x), 0),
        # the class token (x[:, :1]) attends over itself and the patches
        'class-attention': (cls_block, lambda m, x: m(x[:, 1:], x[:, :1]), 1),
        'seq-pool': (pool, lambda m, x: m(x)[:, None], 0),
        'gpsa': (gpsa, lambda m, x: m(x, relative_indices((2, 3))), 0),
    }


@pytest.mark.parametrize('case', sorted(_attention_cases()))
@pytest.mark.parametrize('fused', [True, False])
def test_attention_with_a_policy_equals_the_kept_tokens_alone(case, fused):
    """Inside keep_tokens(policy), each kept query (every query of a class
    attention / pooling) gets what attention over the kept tokens alone
    gives (GPSA: at their grid positions, keep_tokens(kept) at inference);
    the weights of the dropped keys are zero; a policy of ones is the plain
    module."""
    module, run, front = _attention_cases()[case]
    for m in module.modules():
        if hasattr(m, 'fused_attn'):
            m.fused_attn = fused
    module.eval()
    x = torch.randn(2, front + 6, 16)
    keep = torch.tensor([[1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 1, 0]]).float()
    with keep_tokens(policy=keep):
        out = run(module, x)
    with keep_tokens(policy=torch.ones(2, 6)):
        ones = run(module, x)
    torch.testing.assert_close(ones, run(module, x), atol=1e-5, rtol=0)
    per_token = out.size(1) == x.size(1)  # else: the queries in front
    for b in range(2):
        kept = keep[b].bool()
        index = torch.cat([torch.arange(front), front + kept.nonzero()[:, 0]])
        with keep_tokens(kept=kept.nonzero().T, num_patches=6):
            alone = run(module, x[b:b + 1, index])
        mine = out[b:b + 1, index] if per_token else out[b:b + 1]
        torch.testing.assert_close(mine, alone, atol=1e-5, rtol=0)
    with record_attention() as weights, keep_tokens(policy=keep):
        run(module, x)
    if case != 'seq-pool':  # pooling does not record
        w = weights[0]  # (B, H, Nq, Nk)
        kept_keys = torch.cat([torch.ones(2, front), keep], 1).bool()
        # the kept queries' rows (a dropped token keeps its self-loop)
        rows = kept_keys if w.size(2) == w.size(3) else \
            torch.ones(2, w.size(2), dtype=torch.bool)
        dropped = rows[:, None, :, None] & ~kept_keys[:, None, None, :]
        assert w[dropped.expand_as(w)].abs().max() < 1e-6
        assert w[~dropped.expand_as(w)].abs().max() > 0.01


def test_attention_with_its_own_softmax_cannot_take_a_policy():
    """Mesa's 8-bit softmax cannot apply a keep policy: an error, not an
    unmasked attention; DynamicViT refuses an attend_op up front."""
    attn = Attention(16, 2)
    attn.attend_op = MesaAttend(2)
    x = torch.randn(1, 4, 16)
    attn(x)  # without a policy: Mesa's attention
    with keep_tokens(policy=torch.ones(1, 4)), pytest.raises(
            RuntimeError, match='cannot be combined'):
        attn(x)
    vit = MODELS.build(deit())
    vit.blocks[0].attn.attend_op = MesaAttend(2)
    with pytest.raises(ValueError, match='own attend_op .MesaAttend.'):
        DynamicViT(vit)


def test_predictor_global_mean_of_kept_tokens():
    torch.manual_seed(0)
    predictor = TokenKeepPredictor(8)
    x = torch.randn(1, 5, 8)
    policy = torch.tensor([[1., 1., 0., 1., 0.]])
    out = predictor(x, policy)
    assert out.shape == (1, 5, 2)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(1, 5))
    changed = x.clone()
    changed[:, 2] += 10.  # a dropped token does not enter the global mean
    torch.testing.assert_close(predictor(changed, policy)[:, [0, 1, 3]],
                               out[:, [0, 1, 3]])
    changed[:, 1] = torch.randn(8) * 3.  # a kept one does
    assert not torch.allclose(predictor(changed, policy)[:, 0], out[:, 0])
    assert predictor(x, torch.zeros(1, 5)).isfinite().all()  # none kept
    with pytest.raises(ValueError, match='dims'):
        TokenKeepPredictor(2)


def test_keep_ratios():
    torch.testing.assert_close(
        torch.tensor(keep_ratios(0.7, 3)), torch.tensor([0.7, 0.49, 0.343]))
    assert keep_ratios([0.9, 0.5], 2) == [0.9, 0.5]
    for bad in (0, 1.5, True, [0.5, 0.9], [0.5], 'a'):
        with pytest.raises(ValueError, match='keep_ratio'):
            keep_ratios(bad, 2)


# ---------------------------------------------------------------- losses
def test_ratio_loss_closed_form():
    d1 = torch.tensor([[1., 1., 0., 0.], [1., 1., 1., 1.]])
    d2 = torch.tensor([[1., 0., 0., 0.], [1., 1., 0., 0.]])
    loss = DynamicViTRatioLoss(keep_ratio=0.5, num_locations=2,
                               loss_weight=2.)
    # targets 0.5, 0.25; kept fractions (0.5, 1.0), (0.25, 0.5):
    # location 1: (0 + 0.25) / 2; location 2: (0 + 0.0625) / 2
    expected = 2. * (0.125 + 0.03125) / 2
    assert loss([d1, d2]).item() == pytest.approx(expected)
    assert loss([d1[..., None], d2[..., None]]).item() == pytest.approx(
        expected)
    explicit = DynamicViTRatioLoss(keep_ratio=[0.75, 0.5], num_locations=2,
                                   loss_weight=1.)
    # (0.0625 + 0.0625) / 2 and (0.0625 + 0) / 2, averaged
    assert explicit([d1, d2]).item() == pytest.approx(
        (0.0625 + 0.03125) / 2)
    with pytest.raises(ValueError, match='2 keep decisions'):
        loss([d1])
    with pytest.raises(ValueError, match='num_locations'):
        DynamicViTRatioLoss(num_locations=0)
    with pytest.raises(ValueError, match='loss_weight'):
        DynamicViTRatioLoss(loss_weight=-1.)


def test_kept_token_mse_hand_values():
    preds = torch.tensor([[[9., 9.], [1., 2.], [5., 5.], [3., 0.]]],
                         requires_grad=True)  # class token, 3 patches
    target = torch.zeros(1, 4, 2)
    mask = torch.tensor([[1., 0., 1.]])
    loss = KeptTokenMSELoss(loss_weight=0.5)
    # kept patches 0 and 2: (1 + 4 + 9 + 0) / 4, the class token left out
    assert loss(preds, target, mask).item() == pytest.approx(0.5 * 14 / 4)
    zero = loss(preds, target, torch.zeros(1, 3))
    assert zero.item() == 0.
    zero.backward()  # still in the graph
    with pytest.raises(ValueError, match='does not fit'):
        loss(preds, target, torch.ones(1, 5))
    with pytest.raises(ValueError, match='differ in shape'):
        loss(preds, target[:, 1:], mask)


# ---------------------------------------------------------------- backbone
def test_pruning_locations_and_keep_counts():
    assert dynamic(backbone=deit(12)).pruning_loc == [3, 6, 9]
    model = dynamic()
    assert model.pruning_loc == [1, 2, 3]
    assert dynamic(pruning_loc=(2, )).pruning_loc == [2]
    assert model.num_kept(16) == [11, 7, 5]
    assert model.num_kept(196) == [137, 96, 67]  # the official DeiT counts
    assert model.num_kept(1) == [1, 1, 1]


@pytest.mark.parametrize('hw', [(32, 32), (32, 40), (48, 24)])
def test_any_token_grid_keeps_floor_counts(hw):
    model = dynamic().eval()
    sizes = []
    for block in model.vit.blocks:
        block.register_forward_pre_hook(
            lambda m, args: sizes.append(args[0].shape[1]))
    out = model(torch.randn(2, 3, *hw))
    n = (hw[0] // 8) * (hw[1] // 8)
    kept = [int(n * 0.7), int(n * 0.49), int(n * 0.343)]
    assert sizes == [1 + n] + [1 + k for k in kept]
    assert out[0].shape == (2, 32)
    model.train()(torch.randn(2, 3, *hw))  # masking: any grid too


def test_gumbel_decisions_are_hard_and_multiplicative():
    model = dynamic().train()
    decisions = []
    for tap in model.keep_decisions:
        tap.register_forward_hook(lambda m, a, out: decisions.append(out))
    out = model(torch.randn(4, 3, 32, 40))
    assert len(decisions) == 3
    for d in decisions:
        assert d.shape == (4, 20)
        assert set(d.unique().tolist()) <= {0., 1.}
    assert (decisions[1] <= decisions[0]).all()
    assert (decisions[2] <= decisions[1]).all()
    # straight-through: the predictors learn through the masked attention
    out[0].sum().backward()
    for predictor in model.predictors:
        grad = predictor.out_conv[-2].weight.grad
        assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize('name', ['deit', 'convit', 'cait'])
def test_gradient_checkpointing_of_the_wrapped_vit(name):
    """The wrapped ViT's with_cp checkpoints the policy blocks too (they
    are recomputed with the keep state of their forward): same training
    output and gradients."""
    x = torch.randn(2, 3, 32, 32)
    results = []
    for with_cp in (False, True):
        model = family(name, with_cp=with_cp).train()
        torch.manual_seed(3)  # the same Gumbel noise
        out = model(x)[0]
        out.sum().backward()
        results.append(
            (out, model.predictors[0].in_conv[1].weight.grad.clone()))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


@pytest.mark.parametrize('name', FAMILIES)
@pytest.mark.parametrize('fused', [True, False])
def test_training_masking_equals_inference_gathering(
        monkeypatch, name, fused):
    """With decisions that keep exactly the top-k tokens (of the scores,
    among those still kept), the masked training pass gives the output of
    the gathered inference pass, for every family: the keep state reaches
    every attention that runs after the first location (CaiT's class
    attention, ConViT's GPSA at the kept positions and its late class
    token, CCT's sequence pooling), and the predictors see the same
    tokens."""
    model = family(name, fused_attn=fused).eval()
    for predictor in model.predictors:  # scores far apart: no near-ties
        torch.nn.init.normal_(predictor.out_conv[-2].weight)
    x = torch.randn(3, 3, 32, 40)
    num_patches = model.vit.embed(x)[0].size(1) - model.num_extra_tokens
    expected = model(x)[0]
    counts = iter(model.num_kept(num_patches))
    state = dict(prev=None)

    def topk_one_hot(logits, tau=1., hard=False, dim=-1):
        score = logits[..., 0]
        if state['prev'] is not None:
            score = score.masked_fill(state['prev'] == 0, float('-inf'))
        keep = torch.zeros_like(score).scatter(
            1, score.topk(next(counts), dim=1)[1], 1.)
        state['prev'] = keep
        return torch.stack([keep, 1 - keep], dim=-1)

    monkeypatch.setattr(F, 'gumbel_softmax', topk_one_hot)
    model.train()
    torch.testing.assert_close(model(x)[0], expected, atol=1e-5, rtol=0)
    # and it is not the unpruned output
    unpruned = model.vit.eval()(x)[0]
    assert not torch.allclose(
        torch.cat(unpruned) if isinstance(unpruned, tuple) else unpruned,
        torch.cat(expected) if isinstance(expected, tuple) else expected,
        atol=1e-3)


@pytest.mark.parametrize('name', FAMILIES)
def test_every_family_prunes_and_trains_its_predictors(name):
    """Inference runs the blocks after each location on the kept tokens
    only; in training every predictor gets gradients through the masked
    attention (straight-through decisions)."""
    model = family(name).eval()
    x = torch.randn(2, 3, 32, 40)
    num_patches = model.vit.embed(x)[0].size(1) - model.num_extra_tokens
    sizes = []
    for block in model.vit.blocks:
        block.register_forward_pre_hook(
            lambda m, args: sizes.append(args[0].shape[1]))
    model(x)
    kept = model.num_kept(num_patches)
    patches = [num_patches] + [kept[model.pruning_loc.index(i)] if i in
                               model.pruning_loc else None
                               for i in range(1, len(sizes))]
    for i in range(1, len(patches)):  # carried over between locations
        patches[i] = patches[i] if patches[i] is not None else patches[i - 1]
    # the blocks' inputs: the patches present (and the tokens in front)
    assert [s - p for s, p in zip(sizes, patches)] in (
        [model.num_extra_tokens] * len(sizes),  # DeiT, CaiT, CCT
        [0, 0, 0, 0, 1],  # ConViT: the class token joins before block 3...
        [0, 0, 0, 1, 1])  # ...which is after the join here
    model.train()
    out = model(x)[0]
    out = torch.cat(out) if isinstance(out, tuple) else out
    (out * torch.randn_like(out)).sum().backward()  # (LN rows sum to 0)
    for predictor in model.predictors:
        grad = predictor.out_conv[-2].weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_keep_ratio_one_is_the_plain_backbone():
    plain = MODELS.build(deit()).eval()
    plain.init_weights()
    model = dynamic(keep_ratio=1.).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model(x)[0], plain(x)[0], atol=1e-5, rtol=0)


def test_loads_a_plain_deit_checkpoint():
    torch.manual_seed(1)
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=deit(),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert sorted(result.missing_keys) == sorted(
        k for k in model.state_dict() if k.startswith('backbone.predictors.'))
    for key, value in plain.state_dict().items():
        own = key.replace('backbone.', 'backbone.vit.', 1)
        assert torch.equal(model.state_dict()[own], value)
    # and its own checkpoints load back as they are
    again = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.backbone.predictors[0].in_conv[1].weight,
                       model.backbone.predictors[0].in_conv[1].weight)


@pytest.mark.parametrize('kwargs', [
    dict(distilled=True),
    dict(arch=DEIT3_SETTINGS),
])
def test_deit_variants(kwargs):
    model = dynamic(backbone=deit(**kwargs))
    x = torch.randn(2, 3, 32, 32)
    out = model.train()(x)[0]
    pruned = model.eval()(x)[0]
    if kwargs.get('distilled'):  # class and distillation tokens kept
        assert model.num_extra_tokens == 2
        assert out[0].shape == pruned[1].shape == (2, 32)
    else:
        assert out.shape == pruned.shape == (2, 32)


def test_refused_backbones():
    with pytest.raises(ValueError, match='PiT has its own stages'):
        DynamicViT(build_tiny(PiT, init=False))
    # each family that cannot says why
    for cls, why in ((XCiT, 'LPI'), (DHVT, 'DAFF'),
                     (ResMLP, 'token-mixing layer'),
                     (ArchNetViT, 'TokenBatchNorm')):
        with pytest.raises(ValueError, match=f'cannot prune the tokens of '
                           f'{cls.__name__}: .*{why}'):
            DynamicViT(build_tiny(cls, init=False))
    with pytest.raises(TypeError, match='VisionBackbone'):
        DynamicViT(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"one of \['cls_token'\] .* got "
                       "out_type='featmap'"):
        DynamicViT(deit(out_type='featmap'))
    with pytest.raises(ValueError, match=r'out_indices=\[1, 3\]'):
        DynamicViT(deit(out_indices=(1, 3)))
    with pytest.raises(ValueError, match=r"\['seq_pool'\]"):
        DynamicViT(build_tiny(CCT, init=False, out_type='avg_featmap'))
    vit = MODELS.build(deit())
    vit.num_extra_tokens = None
    with pytest.raises(ValueError, match='num_extra_tokens=None'):
        DynamicViT(vit)


@pytest.mark.parametrize('pruning_loc', [(), (4, ), (2, 1), (2, 2),
                                         (1, 0.5), (0., ), (1.5, ), 'ab',
                                         (True, )])
def test_bad_pruning_loc(pruning_loc):
    with pytest.raises(ValueError, match='pruning_loc'):
        DynamicViT(deit(), pruning_loc=pruning_loc)


def test_bad_keep_ratio():
    for bad in (0., 1.2, [0.7, 0.5], [0.5, 0.6, 0.7]):
        with pytest.raises(ValueError, match='keep_ratio'):
            DynamicViT(deit(), keep_ratio=bad)


def test_layer_depths_and_lr_scale_groups():
    model = dynamic()
    assert model.get_layer_depth('predictors.0.in_conv.1.weight') == (1, 2)
    assert model.get_layer_depth('vit.blocks.0.attn.qkv.weight') == (0, 2)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (0, 2)
    cfg = Config.fromfile(CONFIG)
    classifier = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    optimizer = build_optim_wrapper(classifier, cfg.optim_wrapper).optimizer
    settings = {}
    for group in optimizer.param_groups:
        for p in group['params']:
            settings[id(p)] = (group['lr'], group['weight_decay'])
    named = dict(classifier.named_parameters())

    def of(name):
        return settings[id(named[name])]

    assert of('backbone.predictors.0.in_conv.1.weight') == (1e-3, 0.05)
    assert of('backbone.predictors.0.in_conv.1.bias') == (1e-3, 0.)
    assert of('backbone.vit.blocks.0.attn.qkv.weight') == \
        pytest.approx((1e-5, 0.05))
    assert of('backbone.vit.blocks.0.norm1.weight') == \
        pytest.approx((1e-5, 0.))
    assert of('head.fc.weight') == pytest.approx((1e-5, 0.05))
    assert of('backbone.vit.cls_token') == (0., 0.)  # frozen, officially
    assert of('backbone.vit.pos_embed') == (0., 0.)


# ---------------------------------------------------------- the algorithm
def test_bundled_config_losses(tmp_path):
    """The bundled recipe's distiller computes every official term from
    the recorded decisions and tokens (a random teacher checkpoint of the
    config's teacher), and the teacher initialises the student."""
    cfg = Config.fromfile(CONFIG)
    teacher = MODELS.build(cfg.teacher)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = ckpt
    cfg.model.backbone.backbone.init_cfg.checkpoint = ckpt
    cfg.model.head.init_cfg.checkpoint = ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in teacher.state_dict().items():
        own = key.replace('backbone.', 'backbone.vit.', 1)
        assert torch.equal(model.state_dict()[own], value), key
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    torch.manual_seed(0)
    losses = model.train().loss(torch.randn(4, 3, 32, 32), samples)
    assert sorted(losses) == ['loss_cls', 'loss_kd', 'loss_ratio',
                              'loss_token']
    assert all(v.isfinite() for v in losses.values())
    assert losses['loss_ratio'] > 0
    sum(losses.values()).backward()
    assert model.backbone.predictors[0].in_conv[1].weight.grad is not None
    # inference runs the pruned student alone
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize('config, timm_name', [
    ('dynamicvit-cait-xxs24_8xb128-30e_in1k.py', 'cait_xxs24_224'),
    ('dynamicvit-convit-small_8xb128-30e_in1k.py', 'convit_small'),
])
def test_imagenet_configs_of_other_families_load_official_weights(
        tmp_path, config, timm_name):
    """The CaiT / ConViT recipes build the teacher and the student from one
    official-layout checkpoint (timm's model of the same layout, random
    weights): the teacher is the official model, and so is the student with
    nothing pruned (keep ratio 1)."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model(timm_name, pretrained=False).eval()
    ckpt = str(tmp_path / 'official.pth')
    torch.save({'model': ref.state_dict()}, ckpt)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'dynamic_vit', config)).model
    cfg.backbone.backbone.init_cfg.checkpoint = ckpt
    cfg.head.init_cfg.checkpoint = ckpt
    cfg.teacher_ckpt = ckpt
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = ref(x)
        torch.testing.assert_close(
            model.teacher(x, mode='tensor'), expected, atol=1e-4, rtol=0)
        model.backbone.keep_ratios = [1.] * 3
        torch.testing.assert_close(
            model(x, mode='tensor'), expected, atol=1e-4, rtol=0)


# ------------------------------------------------------- official parity
GOLDEN = osp.join(TEST_DATA, 'dynamic_vit_golden.pt')


def test_golden_parity_with_the_official_model(monkeypatch):
    """The official ``VisionTransformerDiffPruning`` (raoyongming/DynamicViT
    1322e62, 16 dims, 4 blocks, pruning before blocks 1, 2, 3, rho 0.7, 224
    px: its hard-coded 14 x 14 grid), run with a fixed Gumbel noise: the
    pruned inference logits, the training logits, final patch tokens and
    keep decisions, and the gradient reaching the first predictor."""
    golden = torch.load(GOLDEN, weights_only=True)
    model = DynamicViT(
        deit(arch=dict(embed_dims=16, num_heads=2, feedforward_channels=64),
             img_size=224, patch_size=16),
        pruning_loc=(1, 2, 3), keep_ratio=0.7)
    head = torch.nn.Linear(16, 10)
    state = {}
    for key, value in golden['state_dict'].items():
        if key.startswith('head.'):
            continue
        state[key.replace('score_predictor.', 'predictors.')] = value
    model.load_state_dict(state)  # plain DeiT keys + the predictors
    head.weight.data.copy_(golden['state_dict']['head.weight'])
    head.bias.data.copy_(golden['state_dict']['head.bias'])
    small = golden['small']
    x = small.repeat_interleave(16, -1).repeat_interleave(16, -2)
    calls = []

    def fixed_gumbel(logits, tau=1., hard=False, dim=-1):
        y = ((logits + golden['noise'][len(calls)]) / tau).softmax(dim)
        calls.append(1)
        y_hard = torch.zeros_like(logits).scatter_(
            dim, y.max(dim, keepdim=True)[1], 1.)
        return y_hard - y.detach() + y

    with torch.no_grad():
        logits = head(model.eval()(x)[0])
    torch.testing.assert_close(logits, golden['eval_logits'], atol=1e-5,
                               rtol=1e-4)
    monkeypatch.setattr(F, 'gumbel_softmax', fixed_gumbel)
    tokens, decisions = [], []
    model.vit.norm.register_forward_hook(
        lambda m, a, out: tokens.append(out[:, 1:]))
    for tap in model.keep_decisions:
        tap.register_forward_hook(lambda m, a, out: decisions.append(out))
    logits = head(model.train()(x)[0])
    torch.testing.assert_close(logits, golden['train_logits'], atol=1e-5,
                               rtol=1e-4)
    torch.testing.assert_close(tokens[0], golden['train_tokens'],
                               atol=1e-5, rtol=1e-4)
    assert torch.equal(torch.stack(decisions), golden['decisions'])
    (logits.sum() + tokens[0].pow(2).sum()).backward()
    torch.testing.assert_close(
        model.predictors[0].in_conv[1].weight.grad,
        golden['predictor0_grad'], atol=1e-5, rtol=1e-4)
