# Copyright (c) mmvitplug contributors.
"""SoT (https://arxiv.org/abs/2104.10935): svPN, MGCrP and SoTClsHead.

svPN is checked against an exact SVD (many power iterations) and by hand;
the cross-covariance by hand; the head, every fusion variant and MGCrP
with every normalisation against golden outputs and input gradients of the
official code (``tests/data/sot_golden.pt``, made by running
jiangtaoxie/SoT 5da3c37 ``sot_src/model/classifier.py``,
``representation/`` and ``normalization/`` in float64: ``Classifier`` with
``fusion_type`` sum_fc / sum_loss / concat / aggre_all, dim 16, 2 heads of
wr_dim 4, 5 classes, 2 images of 1 + 9 tokens; ``OnlyVisualTokensClassifier``;
``MultiHeadPooling`` with svPN (3 iterations, 2 singular values, 'one'),
sqrt_d, sqrt_t, ePN, LN, None; ``svPN`` alone on (8, 5, 5) matrices;
gradients of ``sum(output * randn)`` with ``torch.manual_seed(99)``).
"""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmvitplug.layers import SVPN, cross_covariance, svpn
from mmvitplug.models.backbones import CaiT, DeiT, PiT
from mmvitplug.models.heads import MGCrP, SoTClsHead
from mmvitplug.registry import MODELS
from _builders import TEST_DATA, build_tiny

GOLDEN = osp.join(TEST_DATA, 'sot_golden.pt')
DIM, HEADS, WR, NC = 16, 2, 4, 5


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN)


def _weighted_grad(outputs, x):
    """The golden's backward: ``sum(output * randn)`` seeded with 99."""
    torch.manual_seed(99)
    loss = sum((t * torch.randn_like(t)).sum() for t in outputs)
    loss.backward()
    return x.grad


# ---------------------------------------------------------------- primitives
def test_cross_covariance_by_hand():
    q = torch.tensor([[[1., 0.], [0., 1.], [2., 2.]]])
    k = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
    # scalar means 1 and 3.5 removed, then Q^T K / 3
    torch.testing.assert_close(
        cross_covariance(q, k), torch.tensor([[[2., 2.], [4., 4.]]]) / 3)
    torch.testing.assert_close(
        cross_covariance(q, k, remove_mean=False),
        torch.tensor([[[11., 14.], [13., 16.]]]) / 3)
    with pytest.raises(ValueError, match='same B and N'):
        cross_covariance(q, k[:, :2])


def test_svpn_by_hand():
    x = torch.tensor([[[4., 0.], [0., 1.]]], dtype=torch.float64)
    # exact top triplet (e1, 4, e1): 4^0.5 e1 e1^T + diag(0, 1) / 4^0.5
    y = svpn(x, alpha=0.5, iter_num=100, sv_num=1)
    torch.testing.assert_close(
        y, torch.tensor([[[2., 0.], [0., 1 / (2 + 1e-5)]]],
                        dtype=torch.float64))
    # one iteration from (1, 1): u = (4, 1)/sqrt(17), v = (16, 1)/sqrt(257)
    u = torch.tensor([4., 1.], dtype=torch.float64) / 17**0.5
    v = torch.tensor([16., 1.], dtype=torch.float64) / 257**0.5
    s = u @ x[0] @ v
    rest = x[0] - s * torch.outer(u, v)
    ref = s**0.5 * torch.outer(u, v) + rest / (s**0.5 + 1e-5)
    torch.testing.assert_close(svpn(x, iter_num=1)[0], ref)
    # all singular values, no remainder: diag(2, 1)
    torch.testing.assert_close(
        svpn(x, iter_num=100, sv_num=None)[0],
        torch.tensor([[2., 0.], [0., 1.]], dtype=torch.float64))


def _svd_reference(x, alpha, sv_num, eps=1e-5):
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    k = S.shape[-1] if sv_num is None else sv_num
    top = (U[..., :k] * S[..., None, :k]**alpha) @ Vh[..., :k, :]
    if sv_num is None:
        return top
    rest = (U[..., k:] * S[..., None, k:]) @ Vh[..., k:, :]
    return top + rest / (S[..., k - 1, None, None]**(1 - alpha) + eps)


@pytest.mark.parametrize('alpha,sv_num', [(0.5, 1), (0.3, 2), (0.5, 3),
                                          (0.7, None)])
def test_svpn_converges_to_exact_svd(alpha, sv_num):
    torch.manual_seed(0)
    # well separated singular values 6, 3, 1.5, 0.5
    q1 = torch.linalg.qr(torch.randn(4, 5, 4, dtype=torch.float64))[0]
    q2 = torch.linalg.qr(torch.randn(4, 4, 4, dtype=torch.float64))[0]
    s = torch.tensor([6., 3., 1.5, .5], dtype=torch.float64)
    x = (q1 * s) @ q2.transpose(1, 2)
    init = torch.randn(4, dtype=torch.float64)
    exact = _svd_reference(x, alpha, sv_num)
    torch.testing.assert_close(
        svpn(x, alpha, iter_num=200, sv_num=sv_num, init=init), exact)
    # one iteration is only an approximation
    assert not torch.allclose(
        svpn(x, alpha, iter_num=1, sv_num=sv_num, init=init), exact,
        atol=1e-3)


def test_svpn_matches_official(golden):
    x = golden['svpn_x']
    for key, ref in golden.items():
        if not key.startswith('svpn_a'):
            continue
        alpha, it, sv, init = key[len('svpn_'):].split('_')
        m = SVPN(5, alpha=float(alpha[1:]), iter_num=int(it[2:]),
                 sv_num=None if sv == 'svNone' else int(sv[2:]),
                 init_weight=init).double()
        m.load_state_dict(ref['state_dict'])
        torch.testing.assert_close(m(x), ref['y'], msg=key)
        assert (m.weight is None) == (init == 'one')


def test_svpn_learnable_start_vector_gets_gradient():
    torch.manual_seed(0)
    m = SVPN(4)
    m(torch.randn(3, 4, 4)).square().sum().backward()
    assert m.weight.grad is not None and m.weight.grad.abs().sum() > 0
    assert 'weight' not in SVPN(4, init_weight='one').state_dict()


def test_svpn_bad_args():
    with pytest.raises(ValueError, match="choose from \\['learn', 'one'\\]"):
        SVPN(4, init_weight='zero')
    with pytest.raises(ValueError, match='iter_num=0'):
        SVPN(4, iter_num=0)
    with pytest.raises(ValueError, match='sv_num=0'):
        SVPN(4, sv_num=0)
    with pytest.raises(ValueError, match=r'min\(N, d\) = 3'):
        svpn(torch.randn(1, 3, 4), sv_num=4)
    with pytest.raises(ValueError, match='init has 3 entries'):
        svpn(torch.randn(1, 3, 4), init=torch.ones(3))
    with pytest.raises(ValueError, match='needs x'):
        svpn(torch.randn(3, 4))


# ------------------------------------------------------------------- MGCrP
@pytest.mark.parametrize('name', ['svPN_sv2_it3_one', 'sqrt_d', 'sqrt_t',
                                  'ePN', 'LN', 'none'])
def test_mgcrp_matches_official(golden, name):
    norm = dict(
        svPN_sv2_it3_one=dict(type='svPN', alpha=0.5, iter_num=3, sv_num=2,
                              init_weight='one'),
        sqrt_d=dict(type='sqrt_d'), sqrt_t=dict(type='sqrt_t'),
        ePN=dict(type='ePN'), LN=dict(type='LN'), none=None)[name]
    ref = golden['mgcrp_' + name]
    m = MGCrP(DIM, HEADS, WR, normalization=norm).double()
    m.load_state_dict(ref['state_dict'])
    x = golden['x'][:, 1:].clone().requires_grad_(True)
    y = m(x)
    torch.testing.assert_close(y, ref['outputs'][0])
    torch.testing.assert_close(_weighted_grad([y], x), ref['grad'])
    if name == 'sqrt_t':
        assert isinstance(m.norm.factor, torch.nn.Parameter)


def test_mgcrp_cross_covariance_per_head():
    torch.manual_seed(0)
    m = MGCrP(8, num_heads=2, wr_dim=3, normalization=None)
    x = torch.randn(2, 5, 8)
    qk = m.wr(x)  # (B, N, [q_h0, q_h1, k_h0, k_h1] x 3)
    ref = torch.stack([
        cross_covariance(qk[..., 3 * h:3 * h + 3],
                         qk[..., 6 + 3 * h:9 + 3 * h]) for h in range(2)
    ], 1)
    torch.testing.assert_close(m(x), ref.reshape(2, -1))
    assert m.output_dim == 18 and m.wr.bias is None
    assert MGCrP(8, 2, 3, qkv_bias=True).wr.bias.shape == (12, )


def test_mgcrp_bad_args_and_config_not_mutated():
    norm = dict(type='svPN', alpha=0.5)
    MGCrP(8, 2, 3, normalization=norm)
    MGCrP(8, 2, 3, normalization=norm)  # the official pops 'type'
    assert norm == dict(type='svPN', alpha=0.5)
    with pytest.raises(ValueError, match="choose from \\['svPN'"):
        MGCrP(8, 2, 3, normalization=dict(type='MPN'))
    with pytest.raises(ValueError, match="'ePN' takes no arguments"):
        MGCrP(8, 2, 3, normalization=dict(type='ePN', alpha=0.5))
    with pytest.raises(ValueError, match='wr_dim=0'):
        MGCrP(8, 2, 0)
    with pytest.raises(ValueError, match='num_heads=0'):
        MGCrP(8, 0, 3)


# -------------------------------------------------------------------- head
def _golden_head(golden, fusion, num_extra_tokens=1):
    ref = golden['only_visual' if num_extra_tokens == 0 else fusion]
    head = SoTClsHead(NC, DIM, num_extra_tokens=num_extra_tokens,
                      num_heads=HEADS, wr_dim=WR,
                      fusion_type=fusion).double().eval()
    state = dict(ref['state_dict'])
    if fusion in ('concat', 'aggre_all') and num_extra_tokens:
        # the official builds an unused cls_fc
        state = {k: v for k, v in state.items() if not k.startswith('cls_')}
    head.load_state_dict(state)
    return head, ref


@pytest.mark.parametrize('fusion', ['sum_fc', 'sum_loss', 'concat',
                                    'aggre_all'])
def test_head_matches_official(golden, fusion):
    head, ref = _golden_head(golden, fusion)
    x = golden['x'].clone().requires_grad_(True)
    if fusion == 'sum_loss':  # the official returns [cls_head, vis_head]
        outputs = list(head.forward_branches([x]))
        torch.testing.assert_close(head([x]), outputs[0] + outputs[1])
    else:
        outputs = [head([x])]
    assert len(outputs) == len(ref['outputs'])
    for out, expected in zip(outputs, ref['outputs']):
        torch.testing.assert_close(out, expected)
    torch.testing.assert_close(_weighted_grad(outputs, x), ref['grad'])
    assert (head.cls_fc is None) == (fusion in ('concat', 'aggre_all'))


def test_head_without_class_token_matches_official(golden):
    head, ref = _golden_head(golden, 'aggre_all', num_extra_tokens=0)
    x = golden['x'][:, 1:].clone().requires_grad_(True)
    y = head([x])
    torch.testing.assert_close(y, ref['outputs'][0])
    torch.testing.assert_close(_weighted_grad([y], x), ref['grad'])


def _samples(labels):
    return [DataSample().set_gt_label(int(c)) for c in labels]


def test_head_losses_per_fusion():
    torch.manual_seed(0)
    tokens = torch.randn(4, 1 + 9, DIM)
    labels = torch.tensor([0, 1, 2, 3])
    for fusion in ('sum_fc', 'concat', 'aggre_all'):
        head = SoTClsHead(NC, DIM, num_heads=HEADS, wr_dim=WR,
                          fusion_type=fusion)
        losses = head.loss([tokens], _samples(labels))
        torch.testing.assert_close(losses['loss'],
                                   F.cross_entropy(head([tokens]), labels))
    head = SoTClsHead(NC, DIM, num_heads=HEADS, wr_dim=WR,
                      fusion_type='sum_loss')
    losses = head.loss([tokens], _samples(labels))
    cls_logits, vis_logits = head.forward_branches([tokens])
    assert set(losses) == {'loss_cls', 'loss_vis'}
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(cls_logits, labels))
    torch.testing.assert_close(losses['loss_vis'],
                               F.cross_entropy(vis_logits, labels))
    # prediction: the sum of the branches
    pred = head.predict([tokens])
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in pred]),
        F.softmax(cls_logits + vis_logits, dim=1))


def test_head_uses_the_word_tokens_after_the_extra_ones():
    torch.manual_seed(0)
    tokens = torch.randn(2, 2 + 9, DIM)
    head = SoTClsHead(NC, DIM, num_extra_tokens=2, num_heads=HEADS,
                      wr_dim=WR).eval()
    ref = head.cls_fc(tokens[:, 0]) + head.visual_fc(
        head.representation(tokens[:, 2:]))
    torch.testing.assert_close(head([tokens]), ref)
    # concat: visual_fc reads [cls, MGCrP(words)]
    head = SoTClsHead(NC, DIM, num_heads=HEADS, wr_dim=WR,
                      fusion_type='concat').eval()
    assert head.visual_fc.in_features == DIM + HEADS * WR**2
    ref = head.visual_fc(
        torch.cat([tokens[:, 0], head.representation(tokens[:, 1:])], 1))
    torch.testing.assert_close(head([tokens]), ref)


def test_head_dropout_on_mgcrp_features():
    torch.manual_seed(0)
    head = SoTClsHead(NC, DIM, num_heads=HEADS, wr_dim=WR, dropout=0.5)
    seen = []
    head.visual_fc.register_forward_hook(
        lambda m, inp, out: seen.append(inp[0]))
    tokens = torch.randn(8, 10, DIM)
    head.train()
    head([tokens])
    zeros = (seen[-1] == 0).float().mean().item()
    assert 0.35 < zeros < 0.65
    head.eval()
    head([tokens])
    torch.testing.assert_close(seen[-1], head.representation(tokens[:, 1:]))


def test_head_bad_args():
    with pytest.raises(ValueError, match="choose from \\['sum_fc'"):
        SoTClsHead(NC, DIM, fusion_type='sum')
    with pytest.raises(ValueError, match="num_extra_tokens=0 use fusion"):
        SoTClsHead(NC, DIM, num_extra_tokens=0)
    with pytest.raises(ValueError, match='num_extra_tokens=-1'):
        SoTClsHead(NC, DIM, num_extra_tokens=-1)
    with pytest.raises(ValueError, match='dropout=1.0'):
        SoTClsHead(NC, DIM, dropout=1.0)
    with pytest.raises(ValueError, match='num_classes=0'):
        SoTClsHead(0, DIM)
    head = SoTClsHead(NC, DIM, num_heads=HEADS, wr_dim=WR,
                      num_extra_tokens=2)
    with pytest.raises(TypeError, match="out_type='raw'"):
        head([torch.randn(2, DIM)])
    with pytest.raises(TypeError, match='num_extra_tokens=2'):
        head([torch.randn(2, 2, DIM)])


def test_head_built_twice_from_one_config():
    cfg = dict(type='mmvitplug.SoTClsHead', num_classes=NC, in_channels=DIM,
               normalization=dict(type='svPN', alpha=0.5, iter_num=1))
    saved = copy.deepcopy(cfg)
    MODELS.build(cfg)
    MODELS.build(cfg)
    assert cfg == saved


@pytest.mark.parametrize('cls,kwargs,extra,fusion', [
    (DeiT, dict(), 1, 'sum_fc'),
    (DeiT, dict(distilled=True), 2, 'sum_loss'),
    (PiT, dict(), 1, 'concat'),
    (CaiT, dict(), 0, 'aggre_all'),
])
def test_on_plugin_vits(cls, kwargs, extra, fusion):
    backbone = build_tiny(cls, out_type='raw', **kwargs)
    assert getattr(backbone, 'num_extra_tokens', 0) == extra
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    dims = backbone(images)[-1].shape[-1]
    head = MODELS.build(
        dict(type='mmvitplug.SoTClsHead', num_classes=NC, in_channels=dims,
             num_extra_tokens=extra, num_heads=2, wr_dim=3,
             fusion_type=fusion))
    losses = head.loss(backbone(images), _samples([1, 3]))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for module in (backbone, head):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
