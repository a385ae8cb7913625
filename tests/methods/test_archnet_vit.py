# Copyright (c) mmvitplug contributors.
"""Arch-Net's Transformer variant for ViTs: the LSQ quantisers reproduce
the official ``operators/lsq`` (golden values made by running
megvii-research/Arch-Net f43bab2), the quantised DeiT student, its token
adapters, the ViT period loss, the teacher initialisation, the LSQ head and
the algorithm's periods; every argument and error."""
import math
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.converters import archnet_init_from_deit
from mmvitplug.layers import (LSQConv2d, LSQLinear, LSQQuantizer, grad_scale,
                              lsq_quantize, round_pass)
from mmvitplug.models.backbones import ArchNetViT
from mmvitplug.models.backbones.archnet_vit import TokenBatchNorm
from mmvitplug.models.distill import ArchNetTokenAdapterConnector
from mmvitplug.models.heads import LSQLinearClsHead
from mmvitplug.models.losses import ArchNetViTLoss
from mmvitplug.models.utils import load_pretrained
from _builders import REPO_ROOT, TEST_DATA, TINY_ARCHS, TINY_KWARGS

# golden (official megvii-research/Arch-Net f43bab2 operators/lsq): for
# each case the inputs, two training-mode forward + backward passes of the
# official module (the first initialises alpha; no step in between), the
# upstream gradient g_out; float32, CPU
GOLDEN = osp.join(TEST_DATA, 'archnet_lsq_golden.pt')
CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'archnet',
                  'archnet-deit-4l192d-p8_1xb32_digits.py')


def tiny(**kwargs):
    torch.manual_seed(0)
    cfg = dict(TINY_KWARGS['ArchNetViT'], arch=TINY_ARCHS['ArchNetViT'])
    cfg.update(kwargs)
    model = ArchNetViT(**cfg)
    model.init_weights()
    return model


# ------------------------------------------------------------------ LSQ
def _golden_module(name, case):
    if name.startswith('linear'):
        out_f, in_f = case['weight'].shape
        module = LSQLinear(in_f, out_f, w_bits=case['nbits'])
    elif name.startswith('conv'):
        out_c, in_c, k, _ = case['weight'].shape
        module = LSQConv2d(in_c, out_c, k, stride=2, padding=1,
                           w_bits=case['nbits'])
    else:
        return LSQQuantizer(case['nbits'], signed=case['signed'])
    with torch.no_grad():
        module.weight.copy_(case['weight'])
        module.bias.copy_(case['bias'])
    return module


def _alpha(module):
    return module.weight_quant.alpha if hasattr(module, 'weight_quant') \
        else module.alpha


@pytest.mark.parametrize(
    'name', ['linear_w2', 'linear_w8', 'conv_w4', 'act_u4', 'act_s4',
             'act_u2'])
def test_lsq_matches_official(name):
    golden = torch.load(GOLDEN, weights_only=True)
    case = golden[name]
    module = _golden_module(name, case).train()
    alpha = _alpha(module)
    for step in (1, 2):  # the first initialises the step, the second not
        x = case['x'].clone().requires_grad_()
        module.zero_grad()
        out = module(x)
        if step == 1:
            torch.testing.assert_close(alpha.detach(),
                                       case['alpha_init'].reshape(()),
                                       rtol=1e-6, atol=0)
        (out * case['g_out']).sum().backward()
        torch.testing.assert_close(out, case[f'out{step}'], rtol=0,
                                   atol=1e-6)
        torch.testing.assert_close(x.grad, case[f'grad_x{step}'], rtol=0,
                                   atol=1e-6)
        torch.testing.assert_close(alpha.grad,
                                   case[f'grad_alpha{step}'].reshape(()),
                                   rtol=1e-5, atol=1e-7)
        if 'weight' in case:
            torch.testing.assert_close(module.weight.grad,
                                       case[f'grad_weight{step}'], rtol=0,
                                       atol=1e-6)
            torch.testing.assert_close(module.bias.grad,
                                       case[f'grad_bias{step}'], rtol=0,
                                       atol=1e-6)
    if 'eval_out_after_init' in case:
        with torch.no_grad():
            torch.testing.assert_close(module.eval()(case['x']),
                                       case['eval_out_after_init'])


def test_lsq_quantize_by_hand():
    """Levels, half-to-even rounding, the clip and the LSQ gradients."""
    a = torch.tensor(0.5, requires_grad=True)
    x = torch.tensor([0.25, 0.75, -0.3, 3.0, -5.0], requires_grad=True)
    q = lsq_quantize(x, a, -4, 3)
    # x / a = 0.5 -> 0 and 1.5 -> 2 (half to even), -0.6 -> -1, 6 -> 3
    # (clipped), -10 -> -4 (clipped)
    assert q.tolist() == [0., 1., -0.5, 1.5, -2.]
    q.sum().backward()
    assert x.grad.tolist() == [1., 1., 1., 0., 0.]
    # d q / d a: round(v) - v inside, the bound outside; times
    # g = 1 / sqrt(numel * Qp)
    # v = x / a: 0.5, 1.5, -0.6 inside (round(v) - v: -0.5, 0.5, -0.4),
    # 6 and -10 clipped (3 and -4)
    expected = (-0.5 + 0.5 - 0.4 + 3 - 4) / math.sqrt(5 * 3)
    assert a.grad.item() == pytest.approx(expected, rel=1e-6)
    # exact multiples of the step in the forward pass
    s = torch.tensor(0.1)
    y = lsq_quantize(torch.randn(1000), s, -8, 7)
    assert torch.equal(y, torch.round(y / s).clamp(-8, 7) * s)
    # the helpers: value unchanged, gradient scaled / straight through
    t = torch.tensor([2.5, -1.5], requires_grad=True)
    assert torch.equal(grad_scale(t, 0.25), t)
    grad_scale(t, 0.25).sum().backward()
    assert t.grad.tolist() == [0.25, 0.25]
    t.grad = None
    assert round_pass(t).tolist() == [2., -2.]
    round_pass(t).sum().backward()
    assert t.grad.tolist() == [1., 1.]


def test_lsq_quantizer_initialisation_and_eval_guard():
    x = torch.randn(4, 10) * 3
    step = 2 * x.abs().mean() / math.sqrt(15)
    quant = LSQQuantizer(4, signed=False)
    assert quant.levels == (0, 15)
    assert LSQQuantizer(4, signed=True).levels == (-8, 7)
    # eval before any training forward: the data's step, not stored
    out = quant.eval()(x)
    assert not quant.initialised and quant.alpha.item() == 1.
    torch.testing.assert_close(out, lsq_quantize(x, step, 0, 15))
    # the first training forward stores it; later inputs do not change it
    quant.train()(x)
    assert quant.initialised
    torch.testing.assert_close(quant.alpha.detach(), step)
    quant(x * 10)
    torch.testing.assert_close(quant.alpha.detach(), step)
    # unsigned: non-negative levels of the stored step
    y = quant.eval()(x)
    assert y.min() == 0 and torch.equal(y, torch.round(y / step) * step)
    # the state is saved and loaded: no re-initialisation after loading
    loaded = LSQQuantizer(4)
    loaded.load_state_dict(quant.state_dict())
    loaded.train()(x * 10)
    torch.testing.assert_close(loaded.alpha.detach(), step)


def test_lsq_full_precision_and_errors():
    quant = LSQQuantizer(None)
    x = torch.randn(3, 4)
    assert quant(x) is x and not list(quant.parameters())
    linear = LSQLinear(4, 2, w_bits=None)
    assert linear.w_bits is None
    torch.testing.assert_close(linear(x), F.linear(x, linear.weight,
                                                   linear.bias))
    conv = LSQConv2d(3, 2, 3, w_bits=None)
    img = torch.randn(1, 3, 5, 5)
    torch.testing.assert_close(conv(img), F.conv2d(img, conv.weight,
                                                   conv.bias))
    # quantised weights: at most 2^b levels, of the stored step
    linear = LSQLinear(16, 8, w_bits=2).train()
    linear(x.repeat(1, 4))
    w = linear.weight_quant(linear.weight)
    assert len(w.unique()) <= 4 and linear.w_bits == 2
    for bits in (0, 17, 2.0, True):
        with pytest.raises(ValueError, match=r'bits must be an int in '
                           r'\[1, 16\] or None'):
            LSQQuantizer(bits)
    with pytest.raises(ValueError, match='signed LSQ quantiser needs bits'):
        LSQQuantizer(1, signed=True)


def test_lsq_initialisation_averages_the_ranks(monkeypatch):
    """Under DDP every replica starts from the same step: the mean of the
    ranks' ``2 mean|x| / sqrt(Qp)`` (the other rank simulated: its step
    is added by the all-reduce)."""
    import torch.distributed as dist
    other = torch.tensor(2 * 3. / math.sqrt(15))  # its mean |x| is 3
    reduced = []

    def all_reduce(t):
        reduced.append(t.clone())
        t += other

    monkeypatch.setattr(dist, 'is_initialized', lambda: True)
    monkeypatch.setattr(dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(dist, 'all_reduce', all_reduce)
    quant = LSQQuantizer(4).train()
    quant(torch.ones(8))  # mean |x| = 1
    torch.testing.assert_close(reduced[0], torch.tensor(2 / math.sqrt(15)))
    torch.testing.assert_close(quant.alpha.detach(),
                               torch.tensor(2 * 2. / math.sqrt(15)))
    quant(torch.ones(8))
    assert len(reduced) == 1  # only the initialisation communicates


# -------------------------------------------------------------- student
def test_token_batchnorm_normalises_over_batch_and_tokens():
    norm = TokenBatchNorm(6, a_bits=None).train()
    x = torch.randn(3, 5, 6) * 2 + 1
    ref = nn.BatchNorm1d(6, eps=1e-6).train()
    torch.testing.assert_close(norm(x), ref(x.reshape(15, 6)).view(3, 5, 6))
    torch.testing.assert_close(norm.running_mean, ref.running_mean)
    quantised = TokenBatchNorm(6, a_bits=4).train()
    y = quantised(x)
    step = quantised.quant.alpha.detach()
    assert torch.equal(y, torch.round(y / step) * step)
    with pytest.raises(ValueError, match=r'tokens \(B, N, C\)'):
        norm(torch.randn(2, 6, 3, 3))


def test_every_matmul_input_is_quantised():
    """After the first training forward: the inputs of qkv, fc1 and fc2,
    q, k, v and both branch outputs lie on their quantisers' levels; the
    weights have 2^w_bits levels; the attention context (the input of
    proj) is full precision, as officially."""
    model = tiny().train()
    x = torch.randn(4, 3, 32, 32)
    model(x)
    block = model.blocks[1]
    seen = {}
    hooks = [
        getattr(block.attn, m).register_forward_pre_hook(
            lambda mod, args, m=m: seen.__setitem__(m, args[0]))
        for m in ('qkv', 'proj')
    ] + [
        getattr(block.mlp, m).register_forward_pre_hook(
            lambda mod, args, m=m: seen.__setitem__(m, args[0]))
        for m in ('fc1', 'fc2')
    ] + [
        getattr(block.attn, m).register_forward_hook(
            lambda mod, args, out, m=m: seen.__setitem__(m, out))
        for m in ('q_quant', 'k_quant', 'v_quant', 'proj_quant')
    ] + [
        block.mlp.out_quant.register_forward_hook(
            lambda mod, args, out: seen.__setitem__('out_quant', out))
    ]
    model.eval()(x)
    for h in hooks:
        h.remove()

    def on_levels(t, quant):
        step = quant.alpha.detach()
        levels = torch.round(t / step)
        qn, qp = quant.levels
        return torch.allclose(levels * step, t, atol=1e-6) and \
            levels.min() >= qn and levels.max() <= qp

    assert on_levels(seen['qkv'], block.norm1.quant)
    assert on_levels(seen['fc1'], block.norm2.quant)
    assert on_levels(seen['fc2'], block.mlp.act_quant)
    assert seen['fc2'].min() >= 0  # a quantised ReLU
    for m in ('q_quant', 'k_quant', 'v_quant', 'proj_quant'):
        assert on_levels(seen[m], getattr(block.attn, m)), m
    assert on_levels(seen['out_quant'], block.mlp.out_quant)
    assert not on_levels(seen['proj'], block.attn.v_quant)
    for m in (block.attn.qkv, block.attn.proj, block.mlp.fc1, block.mlp.fc2,
              model.patch_embed.proj):
        assert len(m.weight_quant(m.weight).unique()) <= 4


def test_attention_logits_recorded_on_the_explicit_path():
    model = tiny(w_bits=None, a_bits=None).eval()
    x = torch.randn(2, 3, 32, 32)
    fused = model(x)[0]
    logits = []
    handle = model.blocks[0].attn.logits.register_forward_hook(
        lambda m, a, out: logits.append(out))
    recorded = model(x)[0]
    handle.remove()
    assert len(logits) == 1 and logits[0].shape == (2, 2, 17, 17)
    torch.testing.assert_close(recorded, fused, atol=1e-5, rtol=1e-5)


def test_student_arguments():
    model = tiny(w_bits=4, a_bits=8)
    assert model.blocks[0].attn.qkv.w_bits == 4
    assert model.patch_embed.proj.w_bits == 4
    assert model.blocks[0].mlp.act_quant.bits == 8
    assert not model.blocks[0].mlp.act_quant.signed
    assert model.blocks[0].norm1.quant.signed
    assert model.norm.quant.bits == 8
    assert tiny(qkv_bias=False).blocks[0].attn.qkv.bias is None
    fp = tiny(w_bits=None, a_bits=None)
    assert not [n for n, _ in fp.named_parameters() if 'alpha' in n]
    with pytest.raises(ValueError, match='not divisible by num_heads'):
        tiny(arch=dict(TINY_ARCHS['ArchNetViT'], num_heads=3))


# --------------------------------------------------------------- loss
def _loss_inputs(layers=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(2, 5, 4, generator=g) for _ in range(2 * layers + 1)]
    teacher = [torch.randn(2, 5, 4, generator=g) for _ in feats]
    maps = [torch.randn(2, 3, 5, 5, generator=g) for _ in range(layers)]
    t_maps = [torch.randn(2, 3, 5, 5, generator=g) for _ in maps]
    logits = torch.randn(2, 4, generator=g)
    t_logits = torch.tensor([[0., 3., 1., 2.], [5., 0., 1., 2.]])
    return dict(student=feats, teacher=teacher, student_attn=maps,
                teacher_attn=t_maps, student_logits=logits,
                teacher_logits=t_logits)


def _mse(a, b):
    return ((a - b)**2).mean()


def _cos_term(s, t):
    s, t = s.softmax(-1), t.softmax(-1)
    cos = (s * t).sum(-1) / (s.norm(dim=-1) * t.norm(dim=-1))
    return 1 - cos.mean()


def test_vit_loss_periods_by_hand():
    """L = 2 blocks, 4 periods: the stem; block 1 (features 0-2, map 0);
    block 2 (features 0-4, maps 0-1); everything + the cross-entropy."""
    inputs = _loss_inputs()
    f, t = inputs['student'], inputs['teacher']
    m, tm = inputs['student_attn'], inputs['teacher_attn']
    loss = ArchNetViTLoss(num_layers=2)
    assert loss.num_periods == 4
    mse = [_mse(a, b) for a, b in zip(f, t)]
    cos = [_cos_term(a, b) for a, b in zip(m, tm)]
    # the official label smoothing: 0.9 on the teacher's argmax (1, 0),
    # 0.1 / 3 on each other class
    target = torch.full((2, 4), 0.1 / 3)
    target[0, 1] = target[1, 0] = 0.9
    ce = -(target * inputs['student_logits'].log_softmax(1)).sum(1).mean()
    expected = [
        mse[0],
        0.64 * mse[0] + 0.8 * mse[1] + mse[2] + cos[0],
        0.8**4 * mse[0] + 0.8**3 * mse[1] + 0.64 * mse[2] + 0.8 * mse[3]
        + mse[4] + 0.8 * cos[0] + cos[1],
    ]
    expected.append(expected[2] + ce)
    for period, value in enumerate(expected):
        loss.set_period(period)
        torch.testing.assert_close(loss(**inputs), value)
    # the arguments
    weighted = ArchNetViTLoss(2, decay=0.5, ce_weight=2., loss_weight=3.)
    weighted.set_period(1)
    torch.testing.assert_close(
        weighted(**inputs), 3 * (0.25 * mse[0] + 0.5 * mse[1] + mse[2]
                                 + cos[0]))
    weighted.set_period(3)
    no_ce = weighted.counts(3)
    assert no_ce == (5, 2, True)
    plain = ArchNetViTLoss(2, label_smoothing=0.)
    plain.set_period(3)
    torch.testing.assert_close(
        plain(**inputs) - expected[2],
        F.cross_entropy(inputs['student_logits'], torch.tensor([1, 0])))
    heavy = ArchNetViTLoss(2, ce_weight=2.)
    heavy.set_period(3)
    torch.testing.assert_close(heavy(**inputs), expected[2] + 2 * ce)


def test_vit_loss_compares_attention_over_keys():
    """1 - cos of the softmaxes along the keys (the official cosine runs
    along dim 1, the heads): maps equal up to a permutation of the heads
    are not equal per head."""
    inputs = _loss_inputs(layers=1)
    loss = ArchNetViTLoss(1)
    loss.set_period(1)
    same = dict(inputs, teacher=inputs['student'])
    same['teacher_attn'] = [inputs['student_attn'][0].clone()]
    assert loss(**same).item() == pytest.approx(0, abs=1e-6)
    swapped = dict(same, teacher_attn=[same['student_attn'][0].flip(1)])
    torch.testing.assert_close(
        loss(**swapped),
        _cos_term(same['student_attn'][0], swapped['teacher_attn'][0]))
    assert loss(**swapped) > 0.01


def test_vit_loss_gradients_reach_the_student_only():
    inputs = _loss_inputs()
    for key in ('student', 'teacher', 'student_attn', 'teacher_attn'):
        inputs[key] = [x.requires_grad_() for x in inputs[key]]
    for key in ('student_logits', 'teacher_logits'):
        inputs[key].requires_grad_()
    loss = ArchNetViTLoss(2)
    loss.set_period(1)
    loss(**inputs).backward()
    assert [x.grad is not None for x in inputs['student']] == \
        [True] * 3 + [False] * 2
    assert all(x.grad is None for x in inputs['teacher'])
    assert inputs['student_logits'].grad is None  # no CE before the last
    loss.set_period(3)
    loss(**inputs).backward()
    assert inputs['student_logits'].grad is not None
    assert inputs['teacher_logits'].grad is None


def test_vit_loss_errors():
    inputs = _loss_inputs()
    loss = ArchNetViTLoss(2)
    with pytest.raises(ValueError, match='needs 5 student features'):
        loss(**dict(inputs, student=inputs['student'][:4]))
    with pytest.raises(ValueError, match='needs 2 teacher attention maps'):
        loss(**dict(inputs, teacher_attn=inputs['teacher_attn'][:1]))
    loss.set_period(1)
    bad = list(inputs['teacher'])
    bad[1] = bad[1][:, :3]
    with pytest.raises(ValueError, match="feature 1 of the student has "
                       r"shape \(2, 5, 4\), the teacher's \(2, 3, 4\)"):
        loss(**dict(inputs, teacher=bad))
    with pytest.raises(ValueError, match=r'period must be an int in \[0, 3\] '
                       r'\(ArchNetViTLoss has 4 periods\)'):
        loss.set_period(4)
    for kwargs, match in ((dict(num_layers=0), 'num_layers must be an int'),
                          (dict(num_layers=2, decay=0.), 'decay must be in'),
                          (dict(num_layers=2, ce_weight=-1.), 'ce_weight'),
                          (dict(num_layers=2, label_smoothing=1.),
                           r'label_smoothing must be in \[0, 1\)')):
        with pytest.raises(ValueError, match=match):
            ArchNetViTLoss(**kwargs)


# ----------------------------------------------------------- connector
def test_token_adapter_by_hand():
    adapter = ArchNetTokenAdapterConnector(32, reduction=16)
    assert (adapter.fc1.out_features, adapter.fc2.out_features,
            adapter.fc3.in_features) == (2, 2, 2)
    x = torch.randn(2, 5, 32)
    w1, w2, w3 = adapter.fc1, adapter.fc2, adapter.fc3
    expected = F.linear(
        F.linear(F.linear(x, w1.weight, w1.bias), w2.weight, w2.bias),
        w3.weight, w3.bias)
    torch.testing.assert_close(adapter(x), expected + x)
    plain = ArchNetTokenAdapterConnector(32, residual=False)
    plain.load_state_dict(adapter.state_dict())
    torch.testing.assert_close(plain(x), expected)
    assert ArchNetTokenAdapterConnector(8).fc1.out_features == 1
    with pytest.raises(ValueError, match=r'expected tokens \(B, N, 32\)'):
        adapter(torch.randn(2, 32, 4, 4))
    with pytest.raises(ValueError, match='reduction must be an int >= 1'):
        ArchNetTokenAdapterConnector(32, reduction=0)


# ------------------------------------------------- teacher -> student
def _deit_classifier(**backbone):
    import mmvitplug  # noqa: F401
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DeiT',
                           arch=TINY_ARCHS['ArchNetViT'],
                           **TINY_KWARGS['ArchNetViT'], **backbone),
             head=dict(type='LinearClsHead', num_classes=10,
                       in_channels=32)))


def test_init_from_deit():
    teacher = _deit_classifier().state_dict()
    converted = archnet_init_from_deit({'state_dict': teacher})
    assert sorted(converted) == sorted(teacher)  # the same names
    assert converted['head.fc.weight'] is teacher['head.fc.weight']
    student = tiny()
    report = load_pretrained(student, converted, prefix='backbone.')
    assert not report.unexpected_keys and not report.mismatched
    assert report.num_loaded == len(converted) - 2
    # the student's own: the steps, their flags, the BN statistics
    assert all(re.search(r'alpha|init_state|running_|num_batches', k)
               for k in report.missing_keys)
    torch.testing.assert_close(student.blocks[2].norm2.weight,
                               teacher['backbone.blocks.2.norm2.weight'])
    torch.testing.assert_close(student.blocks[0].attn.qkv.weight,
                               teacher['backbone.blocks.0.attn.qkv.weight'])
    for bad, what in ((dict(distilled=True), 'dist_token'),
                      (dict(layer_scale_init_value=0.1), 'ls1.gamma')):
        with pytest.raises(KeyError, match=f'not in a DeiT without '
                           f'distillation token.*{what}'):
            archnet_init_from_deit(_deit_classifier(**bad).state_dict())
    with pytest.raises(KeyError, match='not an ImageClassifier with an '
                       'mmvitplug DeiT'):
        archnet_init_from_deit({'blocks.0.attn.qkv.weight': torch.zeros(1)})


def test_lsq_head():
    head = LSQLinearClsHead(10, 32, loss=dict(type='CrossEntropyLoss'))
    assert isinstance(head.fc, LSQLinear) and head.fc.w_bits == 8
    feats = (torch.randn(6, 32), )
    head.train()
    logits = head(feats)
    w = head.fc.weight_quant(head.fc.weight)
    step = head.fc.weight_quant.alpha.detach()
    torch.testing.assert_close(logits, F.linear(feats[0], w, head.fc.bias))
    assert torch.equal(torch.round(w / step) * step, w)
    assert torch.round(w / step).abs().max() <= 128
    samples = [DataSample().set_gt_label(i % 10) for i in range(6)]
    assert head.loss(feats, samples)['loss'] > 0
    assert LSQLinearClsHead(10, 32, w_bits=None).fc.w_bits is None


# ------------------------------------------------------------- distiller
def test_vit_distiller_settings():
    """ArchNetViTDistiller for L blocks: 2 L + 1 features of each network
    (the first block's input, per block its norm2's input and its output),
    L attention maps, the logits; every argument reaches its module."""
    from mmvitplug.models.distill import ArchNetViTDistiller
    cfg = ArchNetViTDistiller.settings(
        2, 32, reduction=4, decay=0.5, ce_weight=2., label_smoothing=0.2,
        loss_weight=3.)
    recorders = cfg['recorders']
    assert [(recorders[f's{k}']['type'], recorders[f's{k}']['source'])
            for k in range(5)] == [
                ('ModuleInputs', 'backbone.blocks.0'),
                ('ModuleInputs', 'backbone.blocks.0.norm2'),
                ('ModuleOutputs', 'backbone.blocks.0'),
                ('ModuleInputs', 'backbone.blocks.1.norm2'),
                ('ModuleOutputs', 'backbone.blocks.1')]
    assert recorders['t3']['source'] == 'teacher.backbone.blocks.1.norm2'
    assert recorders['s_attn1']['source'] == 'backbone.blocks.1.attn.logits'
    assert recorders['t_attn1'] == dict(
        type='AttentionRelations', source='teacher.backbone.blocks.1.attn',
        index='qk')
    assert (recorders['s_logits'], recorders['t_logits']) == (
        dict(source='head'), dict(source='teacher'))
    assert sorted(cfg['connectors']) == ['a1', 'a2', 'a3', 'a4']
    assert cfg['connectors']['a1'] == dict(
        type='mmvitplug.ArchNetTokenAdapterConnector', channels=32,
        reduction=4)
    distiller = MODELS.build(dict(cfg, type='mmvitplug.ConfigurableDistiller'))
    loss = distiller.losses['loss_archnet']
    assert (loss.num_layers, loss.decay, loss.ce_weight,
            loss.label_smoothing, loss.loss_weight) == (2, 0.5, 2., 0.2, 3.)
    assert distiller.connectors['a4'].fc1.out_features == 8
    inputs = cfg['loss_inputs']['loss_archnet']
    assert inputs['student'] == ['s0'] + [
        dict(recorder=f's{k}', connector=f'a{k}') for k in range(1, 5)]
    assert inputs['teacher_attn'] == ['t_attn0', 't_attn1']
    for kwargs, match in ((dict(num_layers=0, embed_dims=8), 'num_layers'),
                          (dict(num_layers=1, embed_dims=True),
                           'embed_dims')):
        with pytest.raises(ValueError, match=f'{match} must be an int >= 1'):
            ArchNetViTDistiller(**kwargs)


# ------------------------------------------------------------- algorithm
@pytest.fixture
def algorithm(tmp_path):
    """The bundled config's algorithm with a random digits DeiT teacher."""
    import mmvitplug  # noqa: F401
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    path = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': MODELS.build(cfg.teacher).state_dict()}, path)
    cfg.model.teacher_ckpt = path
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _grads_after(model, period, images, samples):
    loss = model.distiller.losses['loss_archnet']
    loss.set_period(period)
    model.zero_grad()
    model.train()
    losses = model.loss(images, samples)
    sum(losses.values()).backward()
    touched = set()
    for name, p in model.named_parameters():
        if p.grad is not None and p.grad.abs().sum() > 0:
            touched.add(name)
    return touched


def test_algorithm_trains_one_block_more_per_period(algorithm):
    """The bundled ViT recipe: the student starts from the teacher; period
    0 trains the stem only, period 1 the stem and block 0 (+ its two
    adapters), the last one every block and the head; the teacher never
    changes."""
    model = algorithm
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    torch.testing.assert_close(
        model.backbone.blocks[3].mlp.fc2.weight,
        model.teacher.backbone.blocks[3].mlp.fc2.weight)
    torch.testing.assert_close(model.head.fc.weight,
                               model.teacher.head.fc.weight)
    images = torch.randn(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(4)]

    def parts(touched):
        return {
            n.split('.')[1] + ('.' + n.split('.')[2] if n.startswith(
                'backbone.blocks') else '') if n.startswith('backbone')
            else n.split('.')[0] + ('.' + n.split('.')[2] if n.startswith(
                'distiller') else '')
            for n in touched
        }

    # (the class token equals the teacher's: the stem's MSE gives it none)
    stem = {'patch_embed', 'cls_token', 'pos_embed'}
    first = parts(_grads_after(model, 0, images, samples))
    assert 'patch_embed' in first and first <= stem
    second = parts(_grads_after(model, 1, images, samples))
    assert second - stem == {'blocks.0', 'distiller.a1', 'distiller.a2'}
    last = parts(_grads_after(model, 5, images, samples))
    assert {'blocks.3', 'norm', 'head', 'distiller.a8'} <= last
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher[k]), k
    assert all(p.grad is None for p in model.teacher.parameters())
