# Copyright (c) mmvitplug contributors.
"""EcoFormer (https://arxiv.org/abs/2209.09004): the linear attention on
codes, the straight-through sign, the kernel hash codes and the similarity
targets against hand-computed values; golden parity with the official code
(``tests/data/ecoformer_golden.pt``, made by running ziplab/EcoFormer
a277f9e ``pvt/performer.py`` and ``pvt/hashing/{ksh,utils}.py`` verbatim on
CPU with nbits 6, m 5, topk 3: ``linear_attention_bias``, ``KernelSH``'s
forward and input gradient on fixed A / mvec / anchors, its
``train_hashing_weight_woeig`` fit, and a whole ``EcoformerSelfAttention``
whose first forward fits on a seeded batch); the fit schedule (first
forward, ``request_fit``, the hook), loading softmax-attention weights, the
conversion of DeiT, LIT-Ti, PiT and CCT (LITv2 refused), every argument
and error.
"""
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmpretrain.registry import MODELS

from mmvitplug.engine.hooks import EcoFormerHook
from mmvitplug.layers import (Attention, EcoFormerAttention,
                              convert_to_ecoformer)
from mmvitplug.layers.ecoformer import (BinaryQuantizer, KernelSH,
                                        linear_attention_bias,
                                        similarity_targets)
from mmvitplug.models.backbones import DeiT, EcoFormer
from _builders import TEST_DATA, TINY_ARCHS, build_tiny

GOLDEN = osp.join(TEST_DATA, 'ecoformer_golden.pt')


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=False)


# ----------------------------------------------------------- hand values
def test_linear_attention_bias_by_hand():
    # b = 1, N = 2: codes +1 / -1, values 1 / 3; bias b + 1 = 2
    # sum_m k_m = 0, so both denominators are N (b + 1) = 4;
    # sum_m k_m v_m = 1 - 3 = -2: out_0 = (1 * -2 + 2 * 1) / 4 = 0,
    # out_1 = (-1 * -2 + 2 * 3) / 4 = 2
    codes = torch.tensor([[1.], [-1.]])[None, None]
    v = torch.tensor([[1.], [3.]])[None, None]
    out = linear_attention_bias(codes, codes, v, nbits=1)
    assert out.flatten().tolist() == [0., 2.]
    # the paper's formula, sum_m (q.k + b + 1) v_m / sum_m (q.k + b + 1),
    # gives (3 * 1 + 1 * 3) / 4 = 1.5 for token 0: the code is followed
    assert out[0, 0, 0, 0] != 1.5


def test_linear_attention_bias_is_the_quadratic_formula():
    torch.manual_seed(0)
    b = 5
    q = torch.randint(0, 2, (2, 3, 9, b)).float() * 2 - 1
    k = torch.randint(0, 2, (2, 3, 9, b)).float() * 2 - 1
    v = torch.randn(2, 3, 9, 4)
    sim = q @ k.transpose(-2, -1)  # (B, H, N, N), the O(N^2) form
    ref = (sim @ v + (b + 1) * v) / (sim.sum(-1, keepdim=True) + 9 *
                                     (b + 1))
    torch.testing.assert_close(linear_attention_bias(q, k, v, b), ref)
    # in double precision too, the output in v's dtype
    out = linear_attention_bias(q.double(), k.double(), v.double(), b)
    assert out.dtype == torch.double
    torch.testing.assert_close(out, ref.double())


def test_binary_quantizer_straight_through():
    x = torch.tensor([-1.5, -1., -0.5, 0., 0.5, 1., 2.], requires_grad=True)
    y = BinaryQuantizer.apply(x)
    assert y.tolist() == [-1., -1., -1., 0., 1., 1., 1.]
    y.backward(torch.full_like(x, 3.))
    assert x.grad.tolist() == [0., 0., 3., 3., 3., 0., 0.]


def test_similarity_targets_by_hand():
    x = torch.tensor([[1., 0.], [0.8, 0.6], [0., 1.], [-1., 0.]])[None, None]
    # inner products of row 0: 1, 0.8, 0, -1; of row 2: 0, 0.6, 1, 0
    t = similarity_targets(x, topk=1)[0, 0]
    assert t[0].tolist() == [1., 0., 0., -1.]
    assert t[2, 2] == 1. and t[2].sum() == 0.  # its smallest is a tie
    t2 = similarity_targets(x, topk=2)[0, 0]
    assert t2[0].tolist() == [1., 1., -1., -1.]


def test_hash_codes_by_hand():
    # one head, anchors e1, e2; tokens e1, e2: squared distances [0, 2] and
    # [2, 0], bandwidth sigma = 1, kernel exp(-d / 2) = [1, e^-1] and
    # [e^-1, 1]; minus mvec 0.5: [0.5, e^-1 - 0.5], [e^-1 - 0.5, 0.5]
    ksh = KernelSH(1, 2, nbits=2, num_anchors=2)
    ksh.anchor.copy_(torch.eye(2)[None, None])
    ksh.mvec.fill_(0.5)
    ksh.A.copy_(torch.tensor([[[1., 0.], [-1., 2.]]]))
    x = torch.eye(2)[None, None].requires_grad_()
    c = math.exp(-1) - 0.5
    torch.testing.assert_close(ksh.kernel(x.detach())[0, 0],
                               torch.tensor([[0.5, c], [c, 0.5]]))
    # projections: bit 0 [0.5, c] -> [+1, -1]; bit 1 [-0.5 + 2c, -c + 1]
    # = [-0.764, 1.132] -> [-1, +1]
    codes = ksh(x)
    assert codes[0, 0].tolist() == [[1., -1.], [-1., 1.]]
    # straight-through: only bit 1 of token 1 (|1.132| >= 1) passes nothing
    w = torch.zeros(1, 1, 2, 2)
    w[0, 0, 1, 1] = 1.
    (codes * w).sum().backward()
    assert x.grad.abs().sum() == 0
    x.grad = None
    w = torch.zeros(1, 1, 2, 2)
    w[0, 0, 0, 1] = 1.
    (ksh(x) * w).sum().backward()
    assert x.grad.abs().sum() > 0


# ----------------------------------------------------------- golden parity
def test_golden_linear_attention_bias(golden):
    out = linear_attention_bias(golden['lab_codes'], golden['lab_codes'],
                                golden['lab_v'], golden['args']['nbits'])
    torch.testing.assert_close(out, golden['lab_out'], rtol=0, atol=1e-6)


def test_golden_kernel_sh_forward(golden):
    a = golden['args']
    ksh = KernelSH(2, 8, a['nbits'], a['m'])
    ksh.load_state_dict(golden['ksh_state'])
    x = golden['ksh_x'].clone().requires_grad_()
    codes = ksh(x)
    assert torch.equal(codes, golden['ksh_codes'])
    (codes * golden['ksh_w']).sum().backward()
    torch.testing.assert_close(x.grad, golden['ksh_grad'])
    assert (golden['ksh_proj'].abs() >= 1).any()  # the mask is exercised


def test_golden_kernel_sh_fit(golden):
    a = golden['args']
    ksh = KernelSH(2, 8, a['nbits'], a['m'], fit_iters=30, fit_lr=0.5)
    ksh.A.copy_(golden['fit_A0'])
    with torch.no_grad():  # the fit enables gradients itself
        ksh.fit(golden['fit_x'], golden['fit_anchor'], golden['fit_S'])
    torch.testing.assert_close(ksh.A, golden['fit_A'])
    torch.testing.assert_close(ksh.mvec, golden['fit_mvec'])
    assert torch.equal(ksh.anchor, golden['fit_anchor'])
    assert golden['fit_changed_bits'].all()
    # the other two fit settings change the result
    for kwargs in (dict(fit_iters=29, fit_lr=0.5),
                   dict(fit_iters=30, fit_lr=0.4),
                   dict(fit_iters=30, fit_lr=0.5, fit_momentum=0.5)):
        other = KernelSH(2, 8, a['nbits'], a['m'], **kwargs)
        other.A.copy_(golden['fit_A0'])
        other.fit(golden['fit_x'], golden['fit_anchor'], golden['fit_S'])
        assert not torch.allclose(other.A, golden['fit_A'])


def _golden_attention(golden):
    a = golden['args']
    attn = EcoFormerAttention(
        16, 2, nbits=a['nbits'], num_anchors=a['m'], topk=a['topk'])
    state = {
        k.replace('fast_attention.', ''): v
        for k, v in golden['attn_state0'].items()
    }
    missing = attn.load_state_dict(state, strict=False).missing_keys
    assert missing == ['fitted']
    return attn


def test_golden_attention(golden):
    attn = _golden_attention(golden)
    assert not attn.fitted
    x = golden['attn_x'].clone().requires_grad_()
    torch.manual_seed(123)  # the anchors' random permutation
    out = attn(x)
    assert attn.fitted
    torch.testing.assert_close(out, golden['attn_out'])
    (out * golden['attn_w']).sum().backward()
    torch.testing.assert_close(x.grad, golden['attn_grad_x'])
    for name, p in attn.named_parameters():
        torch.testing.assert_close(p.grad, golden['attn_grads'][name])
    for key, value in golden['attn_state_fitted'].items():
        torch.testing.assert_close(
            attn.state_dict()[key.replace('fast_attention.', '')], value)
    # fitted: the second forward does not refit
    torch.testing.assert_close(
        attn(golden['attn_x'] * 0.5), golden['attn_x2_out'])


# ----------------------------------------------------------- fit schedule
def test_request_fit_refits_on_next_forward(golden):
    attn = _golden_attention(golden)
    x = golden['attn_x']
    torch.manual_seed(123)
    with torch.no_grad():  # a first forward without gradients fits too
        attn.eval()(x)
    anchor = attn.ksh.anchor.clone()
    attn(x * 2)
    assert torch.equal(attn.ksh.anchor, anchor)  # fitted: no refit
    attn.request_fit()
    assert not attn.fitted
    torch.manual_seed(7)
    attn(x * 2)
    assert attn.fitted and not torch.equal(attn.ksh.anchor, anchor)


def test_fitted_state_round_trips(golden):
    attn = _golden_attention(golden)
    torch.manual_seed(123)
    out = attn(golden['attn_x'])
    other = EcoFormerAttention(16, 2, nbits=6, num_anchors=5, topk=3)
    other.load_state_dict(attn.state_dict())
    assert other.fitted
    torch.testing.assert_close(other(golden['attn_x']), out)


def test_hook_schedule():
    torch.manual_seed(0)
    model = EcoFormer(
        build_tiny(DeiT, init=False), num_anchors=4, topk=2, fit_iters=2)
    model(torch.randn(2, 3, 32, 32))
    attns = [m for m in model.modules() if isinstance(m, EcoFormerAttention)]
    assert len(attns) == 3 and all(a.fitted for a in attns)
    logs = []
    runner = SimpleNamespace(
        model=model, epoch=0, logger=SimpleNamespace(info=logs.append))
    hook = EcoFormerHook(interval=2)
    for epoch, refit in ((0, True), (1, False), (2, True), (3, False)):
        for a in attns:
            a.fitted.fill_(True)
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert all(bool(a.fitted) is not refit for a in attns)
    assert logs == [
        'EcoFormer: refitting the hash functions of 3 attention layers on '
        f'the first batch of epoch {e}' for e in (0, 2)
    ]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match='interval'):
            EcoFormerHook(interval=bad)


# ----------------------------------------------------------- weights
def test_loads_softmax_attention_weights():
    torch.manual_seed(0)
    msa = Attention(16, 2)
    eco = EcoFormerAttention(16, 2)
    eco.load_state_dict(msa.state_dict(), strict=False)
    assert torch.equal(eco.to_qk.weight, msa.qkv.weight[:16])
    assert torch.equal(eco.to_qk.bias, msa.qkv.bias[:16])
    assert torch.equal(eco.to_v.weight, msa.qkv.weight[32:])
    assert torch.equal(eco.to_v.bias, msa.qkv.bias[32:])
    assert torch.equal(eco.proj.weight, msa.proj.weight)
    assert not EcoFormerAttention(16, 2, qkv_bias=False).to_qk.bias


def test_wrapper_loads_plain_checkpoint():
    plain = build_tiny(DeiT, seed=1)
    model = EcoFormer(build_tiny(DeiT, seed=2), num_anchors=4, topk=2)
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert all(k.endswith(('fitted', 'ksh.A', 'ksh.mvec', 'ksh.anchor'))
               for k in result.missing_keys)
    assert not result.unexpected_keys
    blk = model.vit.blocks[1].attn
    assert torch.equal(blk.to_qk.weight, plain.blocks[1].attn.qkv.weight[:32])
    assert torch.equal(model.vit.norm.weight, plain.norm.weight)


# ----------------------------------------------------------- conversion
def test_convert_deit_and_skip():
    deit = build_tiny(DeiT)
    qkv = deit.blocks[0].attn.qkv.weight.clone()
    counts = convert_to_ecoformer(
        deit, skip=('blocks.2.*', ), nbits=8, num_anchors=4, topk=2,
        fit_iters=5)
    assert counts == dict(converted=2, skipped=1)
    assert isinstance(deit.blocks[0].attn, EcoFormerAttention)
    assert type(deit.blocks[2].attn) is Attention
    assert torch.equal(deit.blocks[0].attn.to_qk.weight, qkv[:32])
    assert deit.blocks[0].attn.nbits == 8
    assert deit(torch.randn(2, 3, 32, 32))[0].shape == (2, 32)


def test_wrapper_arguments_reach_the_attention():
    model = MODELS.build(
        dict(
            type='mmvitplug.EcoFormer',
            backbone=dict(
                type='mmvitplug.DeiT', arch=TINY_ARCHS['DeiT'], img_size=32,
                patch_size=8),
            nbits=4, num_anchors=3, topk=2, skip=('blocks.0.attn', ),
            fit_iters=7, fit_lr=1e-2, fit_momentum=0.5))
    assert model.counts == dict(converted=2, skipped=1)
    attn = model.vit.blocks[1].attn
    assert (attn.nbits, attn.ksh.num_anchors, attn.topk, attn.ksh.fit_iters,
            attn.ksh.fit_lr, attn.ksh.fit_momentum) == (4, 3, 2, 7, 1e-2,
                                                        0.5)
    assert attn.ksh.A.shape == (2, 4, 3)
    model.init_weights()
    out = model(torch.randn(2, 3, 32, 32))
    assert out[0].shape == (2, 32)
    (out[0] * torch.randn(2, 32)).sum().backward()  # not a LayerNorm's sum
    assert attn.to_qk.weight.grad.abs().sum() > 0  # straight-through


def test_lit_ti_pyramid():
    from mmvitplug.models.backbones import LIT
    lit = LIT(arch=TINY_ARCHS['LIT-Ti'], img_size=64)
    model = EcoFormer(
        lit, num_anchors=4, topk=2, skip=('stages.3.*', ), fit_iters=2)
    # stage 3 (index 2): 2 blocks converted; stage 4 keeps softmax
    assert model.counts == dict(converted=2, skipped=1)
    model.init_weights()
    model.train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out[0].shape == (2, 32)


@pytest.mark.parametrize('name', ['PiT', 'CCT'])
def test_pooling_pyramid_and_sequence_pooling_vits(name):
    """PiT (a pyramid of pooled stages of growing width, class token) and
    CCT (no class token, sequence pooling): every attention converted, and
    every stage's hashing learns (straight-through) in a training step."""
    from mmvitplug.layers import EcoFormerAttention
    from mmvitplug.models import backbones
    cls = getattr(backbones, name)
    model = EcoFormer(build_tiny(cls, init=False), num_anchors=4, topk=2,
                      fit_iters=2)
    converted = [m for m in model.modules()
                 if isinstance(m, EcoFormerAttention)]
    assert model.counts == dict(converted=len(converted), skipped=0)
    assert len(converted) == dict(PiT=4, CCT=3)[name]
    model.init_weights()
    model.train()
    size = 32 if name == 'PiT' else 16
    out = model(torch.randn(2, 3, size, size))[-1]
    (out * torch.randn_like(out)).sum().backward()
    for attn in converted:
        assert attn.to_qk.weight.grad.abs().sum() > 0
    if name == 'PiT':  # the stages' widths
        assert len({a.to_qk.in_features for a in converted}) > 1


def test_refused_backbones_and_arguments():
    from mmvitplug.models.backbones import LITv2
    with pytest.raises(ValueError, match='no mmvitplug.layers.Attention'):
        EcoFormer(build_tiny(LITv2, init=False))
    with pytest.raises(ValueError, match=r"outside skip=\['blocks\.\*'\]"):
        EcoFormer(build_tiny(DeiT, init=False), skip=('blocks.*', ))
    with pytest.raises(TypeError, match='wraps a backbone'):
        EcoFormer(backbone=3)
    with pytest.raises(ValueError, match='attention dropout'):
        EcoFormer(build_tiny(DeiT, init=False, attn_drop_rate=0.1))
    with pytest.raises(ValueError, match='unknown argument'):
        convert_to_ecoformer(build_tiny(DeiT, init=False), num_bits=4)
    with pytest.raises(ValueError, match='skip must be'):
        convert_to_ecoformer(build_tiny(DeiT, init=False), skip='blocks.*')
    for kwargs, name in ((dict(nbits=0), 'nbits'),
                         (dict(num_anchors=1.5), 'num_anchors'),
                         (dict(topk=0), 'topk'),
                         (dict(fit_iters=True), 'fit_iters'),
                         (dict(fit_lr=0.), 'fit_lr'),
                         (dict(fit_momentum=1.), 'fit_momentum'),
                         (dict(num_heads=3), 'divisible')):
        with pytest.raises(ValueError, match=name):
            EcoFormerAttention(16, **dict(dict(num_heads=2), **kwargs))
    attn = EcoFormerAttention(16, 2, num_anchors=5, topk=3)
    with pytest.raises(ValueError, match=r'num_anchors \(5\).*got 4 tokens'):
        attn(torch.randn(1, 4, 16))
    with pytest.raises(ValueError, match='no attention mask'):
        attn(torch.randn(1, 8, 16), mask=torch.ones(1, 1, 8, 8).bool())


def test_pretrained_init_cfg_loads_softmax_checkpoint(tmp_path):
    # the recipes' path: the wrapped backbone's Pretrained init_cfg on a
    # softmax-attention classifier checkpoint (keys 'backbone.*')
    plain = build_tiny(DeiT, seed=3)
    ckpt = str(tmp_path / 'plain.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in plain.state_dict().items()}},
               ckpt)
    model = MODELS.build(
        dict(
            type='mmvitplug.EcoFormer',
            backbone=dict(
                type='mmvitplug.DeiT', arch=TINY_ARCHS['DeiT'], img_size=32,
                patch_size=8,
                init_cfg=dict(
                    type='Pretrained', checkpoint=ckpt,
                    prefix='backbone.')),
            num_anchors=4, topk=2))
    model.init_weights()
    for i in range(3):
        qkv = plain.blocks[i].attn.qkv
        attn = model.vit.blocks[i].attn
        assert torch.equal(attn.to_qk.weight, qkv.weight[:32])
        assert torch.equal(attn.to_v.bias, qkv.bias[64:])
    assert torch.equal(model.vit.pos_embed, plain.pos_embed)
