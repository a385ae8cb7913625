# Copyright (c) mmvitplug contributors.
"""Knowledge-distillation losses: values against hand computations, zero on
agreement, detached teachers, weights, low precision, errors, registry."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmvitplug.models.losses import (ChannelWiseDivergenceLoss, HCLLoss,
                                     HintLoss, JSDivergenceLoss,
                                     KLDivergenceLoss, RelationKLLoss)
from mmvitplug.registry import MODELS

# --- hand computations in plain Python (no torch) -------------------------


def softmax(xs, tau=1.):
    top = max(xs)
    exps = [math.exp((x - top) / tau) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


def kl(p, q):
    """KL(p || q) of two discrete distributions."""
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def entropy(p):
    return -sum(pi * math.log(pi) for pi in p)


def mse(a, b):
    """Mean squared error of two equally long flat lists."""
    return sum((x - y)**2 for x, y in zip(a, b)) / len(a)


def layer_norm(xs, eps=1e-5):
    """LayerNorm at initialisation (weight 1, bias 0) of one row."""
    mean = sum(xs) / len(xs)
    var = sum((x - mean)**2 for x in xs) / len(xs)
    return [(x - mean) / math.sqrt(var + eps) for x in xs]


def avg_pool(grid, k):
    """k x k average pooling of a square grid whose size k divides."""
    size = len(grid) // k
    return [
        sum(grid[i * size + a][j * size + b] for a in range(size)
            for b in range(size)) / size**2 for i in range(k)
        for j in range(k)
    ]


def flat(grid):
    return [v for row in grid for v in row]


def t32(data):
    return torch.tensor(data, dtype=torch.float32)


# --- KLDivergenceLoss ------------------------------------------------------

S_LOGITS = [[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]]
T_LOGITS = [[0.2, 1.5, -0.7], [2.2, -0.4, 0.1]]


@pytest.mark.parametrize('tau_squared', [True, False])
def test_kl_hand_value(tau_squared):
    tau = 2.
    per_sample = [
        kl(softmax(t, tau), softmax(s, tau))
        for s, t in zip(S_LOGITS, T_LOGITS)
    ]
    expected = sum(per_sample) / len(per_sample)
    if tau_squared:
        expected *= tau * tau
    loss = KLDivergenceLoss(tau=tau, tau_squared=tau_squared)(
        preds=t32(S_LOGITS), target=t32(T_LOGITS))
    assert loss.dtype == torch.float32 and loss.dim() == 0
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_kl_dense_sums_classes_and_averages_positions():
    # (N=2, C=3, 2 positions): classes on dim 1
    preds = t32([[[1.0, 0.1], [-0.5, 0.4], [2.0, -1.0]],
                 [[0.3, 0.0], [0.8, 1.1], [-1.2, 0.5]]])
    target = t32([[[0.2, 0.9], [1.5, -0.3], [-0.7, 0.6]],
                  [[2.2, -2.0], [-0.4, 0.2], [0.1, 0.7]]])
    terms = []
    for n in range(2):
        for pos in range(2):
            s = [preds[n, c, pos].item() for c in range(3)]
            t = [target[n, c, pos].item() for c in range(3)]
            terms.append(kl(softmax(t), softmax(s)))
    loss = KLDivergenceLoss()(preds=preds, target=target)
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_kl_tau_squared_switch_is_exactly_tau_squared():
    preds, target = torch.randn(4, 5), torch.randn(4, 5)
    with_sq = KLDivergenceLoss(tau=3.)(preds=preds, target=target)
    without = KLDivergenceLoss(tau=3., tau_squared=False)(
        preds=preds, target=target)
    torch.testing.assert_close(with_sq, without * 9.)


# --- HintLoss --------------------------------------------------------------


def test_hint_hand_value():
    s = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]
    t = [[0.5, -1.0, 0.5], [1.0, 2.0, 1.0]]
    loss = HintLoss()(preds=t32(s), target=t32(t))
    assert loss.item() == pytest.approx(mse(flat(s), flat(t)), rel=1e-6)


def test_hint_norm_hand_value():
    s = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]
    t = [[0.5, -1.0, 0.7], [1.0, 2.0, 4.0]]
    expected = mse(flat(map(layer_norm, s)), flat(map(layer_norm, t)))
    loss = HintLoss(channels=3, norm=True)(preds=t32(s), target=t32(t))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_hint_norm_layers_are_distinct_trained_parameters():
    loss_fn = HintLoss(channels=4, norm=True)
    assert loss_fn.norm_student is not loss_fn.norm_teacher
    names = {name for name, _ in loss_fn.named_parameters()}
    assert names == {
        'norm_student.weight', 'norm_student.bias', 'norm_teacher.weight',
        'norm_teacher.bias'
    }
    preds = torch.randn(2, 3, 4, requires_grad=True)
    target = torch.randn(2, 3, 4, requires_grad=True)
    loss_fn(preds=preds, target=target).backward()
    for name, param in loss_fn.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert target.grad is None
    # the teacher's LayerNorm is its own: changing it changes the loss
    with torch.no_grad():
        before = loss_fn(preds=preds, target=target)
        loss_fn.norm_teacher.weight.mul_(2.)
        after = loss_fn(preds=preds, target=target)
    assert not torch.allclose(before, after)


def test_hint_loss_weight_is_a_mutable_attribute():
    preds, target = torch.randn(2, 5), torch.randn(2, 5)
    loss_fn = HintLoss()
    full = loss_fn(preds=preds, target=target)
    loss_fn.loss_weight = 0.25  # as a hook would
    torch.testing.assert_close(loss_fn(preds=preds, target=target),
                               full * 0.25)


def test_hint_lists_sum_the_pairs_through_the_same_norms():
    """Several layer pairs: the sum of each pair's loss, all through the
    one pair of LayerNorms (the official DistillHint per layer)."""
    torch.manual_seed(0)
    loss_fn = HintLoss(channels=4, norm=True, loss_weight=0.5)
    with torch.no_grad():  # informative LayerNorm parameters
        for p in loss_fn.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    preds = [torch.randn(2, 3, 4), torch.randn(2, 5, 4)]
    target = [torch.randn(2, 3, 4), torch.randn(2, 5, 4)]
    expected = sum(loss_fn(preds=p, target=t) for p, t in zip(preds, target))
    torch.testing.assert_close(loss_fn(preds=preds, target=target), expected)
    # by hand for the first pair (norms applied with their parameters)
    ln_s, ln_t = loss_fn.norm_student, loss_fn.norm_teacher
    first = 0.5 * F.mse_loss(ln_s(preds[0]), ln_t(target[0]))
    torch.testing.assert_close(loss_fn(preds=preds[:1], target=target[:1]),
                               first)


@pytest.mark.parametrize('preds,target', [
    ([torch.zeros(2, 3)], torch.zeros(2, 3)),
    ([torch.zeros(2, 3)], [torch.zeros(2, 3)] * 2),
    ([], []),
])
def test_hint_list_errors(preds, target):
    with pytest.raises(ValueError, match='two equally long, non-empty lists'):
        HintLoss()(preds=preds, target=target)


# --- RelationKLLoss --------------------------------------------------------


def test_relation_kl_hand_value():
    s = [[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [0.0, 0.7, 1.1]]
    t = [[1.0, 0.0, 0.4], [-0.6, 2.0, 0.9], [0.3, 0.3, -2.0]]
    expected = sum(kl(softmax(tr), softmax(sr)) for sr, tr in zip(s, t)) / 3
    loss = RelationKLLoss()(preds=t32([[s]]), target=t32([[t]]))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


# --- JSDivergenceLoss ------------------------------------------------------


def test_js_two_nets_zero_for_equal_logits():
    logits = torch.randn(3, 5)
    loss = JSDivergenceLoss(tau=2.)(logits=[logits, logits.clone()])
    assert abs(loss.item()) < 1e-6


@pytest.mark.parametrize('num_nets', [2, 3])
def test_js_hand_value(num_nets):
    tau = 2.
    nets = [S_LOGITS, T_LOGITS, [[0.0, 0.5, 1.0], [-1.0, -1.0, 3.0]]]
    nets = nets[:num_nets]
    per_sample = []
    for n in range(2):
        probs = [softmax(net[n], tau) for net in nets]
        mean = [sum(p[c] for p in probs) / num_nets for c in range(3)]
        per_sample.append(
            entropy(mean) - sum(entropy(p) for p in probs) / num_nets)
    loss = JSDivergenceLoss(tau=tau)(logits=tuple(t32(z) for z in nets))
    assert loss.item() > 0
    assert loss.item() == pytest.approx(sum(per_sample) / 2, rel=1e-5)


def test_js_gives_gradients_to_every_network():
    logits = [torch.randn(2, 4, requires_grad=True) for _ in range(3)]
    JSDivergenceLoss()(logits=logits).backward()
    for z in logits:
        assert z.grad is not None and z.grad.abs().sum() > 0


# --- HCLLoss ---------------------------------------------------------------

FS = [[1., 2., 0., -1.], [3., 0., 1., 1.], [-2., 1., 4., 0.],
      [0., 0., 2., 5.]]
FT = [[0., 2., 1., -1.], [1., 1., 1., 3.], [-1., 0., 2., 2.],
      [1., -3., 0., 4.]]


def hcl_4x4(fs, ft):
    """levels (4, 2, 1) on 4x4 maps: 4 is skipped (4 >= H), 2 weighs 1/2
    and 1 weighs 1/4; the total weight is 1 + 1/2 + 1/4."""
    full = mse(flat(fs), flat(ft))
    two = mse(avg_pool(fs, 2), avg_pool(ft, 2))
    one = mse(avg_pool(fs, 1), avg_pool(ft, 1))
    return (full + two / 2 + one / 4) / 1.75


def test_hcl_hand_value():
    loss = HCLLoss()(preds=t32([[FS]]), target=t32([[FT]]))
    assert loss.item() == pytest.approx(hcl_4x4(FS, FT), rel=1e-6)


def test_hcl_sums_pairs_and_skips_levels_per_map():
    small_s, small_t = [[1., 2.], [3., -1.]], [[0., 0.], [2., 1.]]
    # on 2x2 maps only level 1 pools (4 and 2 are >= H): (mse + mse1/2)/1.5
    small = (mse(flat(small_s), flat(small_t)) +
             mse(avg_pool(small_s, 1), avg_pool(small_t, 1)) / 2) / 1.5
    loss = HCLLoss(loss_weight=2.)(
        preds=(t32([[FS]]), t32([[small_s]])),
        target=[t32([[FT]]), t32([[small_t]])])
    assert loss.item() == pytest.approx(2 * (hcl_4x4(FS, FT) + small),
                                        rel=1e-6)


def test_hcl_no_levels_is_mse():
    loss = HCLLoss(levels=())(preds=t32([[FS]]), target=t32([[FT]]))
    assert loss.item() == pytest.approx(mse(flat(FS), flat(FT)), rel=1e-6)


# --- ChannelWiseDivergenceLoss ---------------------------------------------


def test_cwd_hand_value():
    tau = 2.
    s = [[[1., 0.], [-1., 2.]], [[0.5, 0.5], [3., -2.]]]
    t = [[[0., 1.], [2., -1.]], [[1., 0.2], [0., 0.]]]
    total = sum(
        kl(softmax(flat(tc), tau), softmax(flat(sc), tau))
        for sc, tc in zip(s, t))
    expected = tau * tau * total / (1 * 2)
    loss = ChannelWiseDivergenceLoss(tau=tau)(
        preds=t32([s]), target=t32([t]))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


# --- properties shared by the student / teacher losses ---------------------

PAIR_CASES = {
    'kl': (dict(type='KLDivergenceLoss', tau=2.), (3, 6)),
    'kl_dense': (dict(type='KLDivergenceLoss'), (2, 4, 3, 3)),
    'hint': (dict(type='HintLoss'), (2, 5, 8)),
    'hint_norm': (dict(type='HintLoss', channels=8, norm=True), (2, 5, 8)),
    'relation': (dict(type='RelationKLLoss'), (2, 3, 4, 4)),
    'hcl': (dict(type='HCLLoss'), (2, 3, 8, 8)),
    'cwd': (dict(type='ChannelWiseDivergenceLoss', tau=4.), (2, 3, 4, 4)),
}


def build(cfg, **kwargs):
    cfg = dict(cfg, **kwargs)
    cfg['type'] = 'mmvitplug.' + cfg['type']
    return MODELS.build(cfg)


@pytest.mark.parametrize('case', sorted(PAIR_CASES))
def test_zero_when_student_equals_teacher(case):
    cfg, shape = PAIR_CASES[case]
    x = torch.randn(shape)
    loss = build(cfg)(preds=x, target=x.clone())
    assert abs(loss.item()) < 1e-6


@pytest.mark.parametrize('case', sorted(PAIR_CASES))
def test_gradients_reach_preds_not_target(case):
    cfg, shape = PAIR_CASES[case]
    preds = torch.randn(shape, requires_grad=True)
    target = torch.randn(shape, requires_grad=True)
    build(cfg)(preds=preds, target=target).backward()
    assert target.grad is None
    assert preds.grad is not None and preds.grad.abs().sum() > 0


@pytest.mark.parametrize('case', sorted(PAIR_CASES))
def test_loss_weight_scales_linearly(case):
    cfg, shape = PAIR_CASES[case]
    preds, target = torch.randn(shape), torch.randn(shape)
    base = build(cfg)(preds=preds, target=target)
    assert base.item() > 0
    for weight in (0., 2.5):
        scaled = build(cfg, loss_weight=weight)(preds=preds, target=target)
        torch.testing.assert_close(scaled, base * weight)


def test_js_loss_weight_scales_linearly():
    logits = [torch.randn(3, 4), torch.randn(3, 4)]
    base = JSDivergenceLoss()(logits=logits)
    torch.testing.assert_close(
        JSDivergenceLoss(loss_weight=3.)(logits=logits), base * 3.)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('case', sorted(PAIR_CASES) + ['js'])
def test_low_precision_inputs_compute_in_float32(case, dtype):
    if case == 'js':
        loss_fn = JSDivergenceLoss(tau=2.)
        low = [torch.randn(3, 6).to(dtype) for _ in range(2)]
        out = loss_fn(logits=low)
        ref = loss_fn(logits=[z.float() for z in low])
    else:
        cfg, shape = PAIR_CASES[case]
        loss_fn = build(cfg)
        preds = torch.randn(shape).to(dtype)
        target = torch.randn(shape).to(dtype)
        out = loss_fn(preds=preds, target=target)
        ref = loss_fn(preds=preds.float(), target=target.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name,kwargs', [
    ('KLDivergenceLoss', dict(tau=4., tau_squared=False, loss_weight=0.5)),
    ('HintLoss', dict(channels=16, norm=True, loss_weight=2.)),
    ('RelationKLLoss', dict(loss_weight=0.5)),
    ('JSDivergenceLoss', dict(tau=3., loss_weight=0.5)),
    ('HCLLoss', dict(levels=[2, 1], loss_weight=0.5)),
    ('ChannelWiseDivergenceLoss', dict(tau=4., loss_weight=3.)),
])
def test_builds_from_registry(name, kwargs):
    loss_fn = MODELS.build(dict(type=f'mmvitplug.{name}', **kwargs))
    assert type(loss_fn).__name__ == name
    for key, value in kwargs.items():
        got = getattr(loss_fn, key)
        assert got == (tuple(value) if isinstance(value, list) else value)


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize('cls,kwargs,exc,match', [
    (KLDivergenceLoss, dict(tau=0.), ValueError, r'tau must be .*> 0, got 0'),
    (KLDivergenceLoss, dict(tau='2'), TypeError, 'tau must be a real number'),
    (KLDivergenceLoss, dict(tau_squared=1), TypeError,
     'tau_squared must be True or False, got 1'),
    (KLDivergenceLoss, dict(loss_weight=-1.), ValueError,
     r'loss_weight must be .*>= 0, got -1'),
    (KLDivergenceLoss, dict(loss_weight=None), TypeError,
     'loss_weight must be a real number, got None'),
    (HintLoss, dict(norm=True), ValueError, 'norm=True needs channels'),
    (HintLoss, dict(channels=8), ValueError,
     'channels=8 only applies to norm=True'),
    (HintLoss, dict(channels=0, norm=True), ValueError,
     'channels must be a positive int or None, got 0'),
    (HintLoss, dict(norm='yes'), TypeError, "norm must be True or False"),
    (HintLoss, dict(loss_weight=float('inf')), ValueError,
     'loss_weight must be a finite number'),
    (RelationKLLoss, dict(loss_weight=-0.5), ValueError,
     'loss_weight must be'),
    (JSDivergenceLoss, dict(tau=-1.), ValueError, 'tau must be'),
    (HCLLoss, dict(levels=4), TypeError,
     'levels must be a list or tuple of positive ints, got 4'),
    (HCLLoss, dict(levels=(4, 0)), ValueError,
     r'levels must be positive ints, got \(4, 0\) \(bad: \[0\]\)'),
    (HCLLoss, dict(levels=(2.0, )), ValueError, r'bad: \[2.0\]'),
    (ChannelWiseDivergenceLoss, dict(tau=0.), ValueError, 'tau must be'),
])
def test_bad_arguments(cls, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cls(**kwargs)


def test_pair_shape_errors():
    kl_loss = KLDivergenceLoss()
    with pytest.raises(ValueError, match=r'\(2, 3\) and \(2, 4\)'):
        kl_loss(preds=torch.randn(2, 3), target=torch.randn(2, 4))
    with pytest.raises(ValueError, match=r'\(N, C\) .* got shape \(3,\)'):
        kl_loss(preds=torch.randn(3), target=torch.randn(3))
    with pytest.raises(TypeError, match='floating-point tensor'):
        kl_loss(preds=torch.ones(2, 3, dtype=torch.long),
                target=torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match='preds must be a tensor, got list'):
        kl_loss(preds=[[1., 2.]], target=torch.randn(1, 2))

    with pytest.raises(ValueError, match=r'\(2, 4\) and \(2, 5\)'):
        HintLoss()(preds=torch.randn(2, 4), target=torch.randn(2, 5))
    with pytest.raises(ValueError,
                       match=r'channels=4.*last dimension 3 is not'):
        HintLoss(channels=4, norm=True)(
            preds=torch.randn(2, 3), target=torch.randn(2, 3))

    relation = RelationKLLoss()
    with pytest.raises(ValueError, match=r"2 heads .* teacher relations 4"
                       r".* teacher's head count"):
        relation(preds=torch.randn(1, 2, 3, 3), target=torch.randn(1, 4, 3, 3))
    with pytest.raises(ValueError, match=r'\(1, 2, 3, 3\) and \(1, 2, 5, 5\)'):
        relation(preds=torch.randn(1, 2, 3, 3), target=torch.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match=r'\(N, heads, L, L\)'):
        relation(preds=torch.randn(2, 3, 3), target=torch.randn(2, 3, 3))

    cwd = ChannelWiseDivergenceLoss()
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        cwd(preds=torch.randn(2, 3, 4), target=torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r'\(1, 2, 2, 2\) and \(1, 3, 2, 2\)'):
        cwd(preds=torch.randn(1, 2, 2, 2), target=torch.randn(1, 3, 2, 2))


def test_js_input_errors():
    js = JSDivergenceLoss()
    with pytest.raises(TypeError, match='list or tuple .* got Tensor'):
        js(logits=torch.randn(2, 3))
    with pytest.raises(ValueError, match='at least 2 networks, got 1'):
        js(logits=[torch.randn(2, 3)])
    with pytest.raises(ValueError,
                       match=r'logits\[0\] and logits\[1\] .*\(2, 3\) and '
                       r'\(2, 4\)'):
        js(logits=[torch.randn(2, 3), torch.randn(2, 4)])
    with pytest.raises(ValueError, match=r'logits\[0\] must be a \(N, C\)'):
        js(logits=[torch.randn(2, 3, 1), torch.randn(2, 3, 1)])


def test_hcl_input_errors():
    hcl = HCLLoss()
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match='2 student .* 1 teacher'):
        hcl(preds=[x, x], target=[x])
    with pytest.raises(ValueError,
                       match=r'preds\[0\] and target\[0\] .*\(1, 2, 4, 4\) '
                       r'and \(1, 2, 2, 2\)'):
        hcl(preds=x, target=torch.randn(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r'preds\[0\] must be a \(N, C, H'):
        hcl(preds=torch.randn(2, 4, 4), target=torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match='preds is an empty list'):
        hcl(preds=[], target=[])
    with pytest.raises(TypeError, match='target must be .* got dict'):
        hcl(preds=x, target=dict(x=x))
