# Copyright (c) mmvitplug contributors.
"""Softmax gradient tampering (PowerGrad Transform): the loss value is the
cross-entropy; its gradient at the logits is (p' - q) times the
reduction's factors, p' = p^alpha / sum p^alpha. Checked against hand
computations, autograd's cross-entropy (alpha = 1) for every reduction and
weighting, mmpretrain's losses and heads, the appendix code's arithmetic,
and the configs."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.models.losses import CrossEntropyLoss, LabelSmoothLoss
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.models.losses import (TamperedCrossEntropyLoss,
                                     tampered_cross_entropy)
from mmvitplug.registry import MODELS

LOGITS = [[2.0, -1.0, 0.5, 0.0], [0.3, 0.2, -0.4, 1.5],
          [-2.0, 1.0, 3.0, 0.1], [0.0, 0.0, 0.0, 0.0],
          [1.2, -0.7, 0.4, -2.2]]
LABELS = [0, 3, 1, 2, 0]


def logits():
    return torch.tensor(LOGITS, requires_grad=True)


def labels():
    return torch.tensor(LABELS)


def soft_targets():
    """Mixup-like scores (N, C): rows summing to 1."""
    torch.manual_seed(0)
    return torch.rand(5, 4).softmax(1)


def grad_of(loss_fn, z=None, upstream=None):
    """The gradient at the logits of ``loss_fn(z)`` (``upstream`` as the
    incoming gradient of a non-scalar loss)."""
    z = logits() if z is None else z
    out = loss_fn(z)
    out.backward(upstream)
    return out.detach(), z.grad


# --- the transform, by hand ------------------------------------------------


def test_tampered_probabilities_by_hand():
    """p = [0.7, 0.2, 0.1], alpha 0.5: p' = sqrt(p) / sum sqrt(p), with
    sqrt(0.7) = 0.836660, sqrt(0.2) = 0.447214, sqrt(0.1) = 0.316228, sum
    1.600102: p' = [0.522880, 0.279491, 0.197629]. For the label 0 the
    gradient is p' - q = [-0.477120, 0.279491, 0.197629] (CE: [-0.3, 0.2,
    0.1])."""
    z = torch.tensor([[0.7, 0.2, 0.1]]).log().requires_grad_()
    loss = TamperedCrossEntropyLoss(alpha=0.5)(z, torch.tensor([0]))
    loss.backward()
    assert loss.item() == pytest.approx(-math.log(0.7), abs=1e-6)
    assert z.grad[0].tolist() == pytest.approx(
        [-0.477120, 0.279491, 0.197629], abs=1e-6)


def test_alpha_zero_gives_a_uniform_p():
    """alpha 0: p' = 1 / C whatever the logits, the gradient 1/C - q."""
    _, grad = grad_of(lambda z: TamperedCrossEntropyLoss(
        alpha=0., reduction='sum')(z, labels()))
    expected = torch.full((5, 4), 0.25) - F.one_hot(labels(), 4)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize('alpha', [0.05, 0.3, 0.5, 0.9])
def test_gradient_is_tampered_p_minus_q_over_n(alpha):
    """Mean reduction: (softmax(alpha z) - q) / N, which is p^alpha / sum
    p^alpha - q over N."""
    z0 = torch.tensor(LOGITS)
    loss, grad = grad_of(
        lambda z: TamperedCrossEntropyLoss(alpha=alpha)(z, labels()))
    p = z0.softmax(1)
    tampered = p**alpha / (p**alpha).sum(1, keepdim=True)
    torch.testing.assert_close(
        grad, (tampered - F.one_hot(labels(), 4)) / 5, rtol=0, atol=1e-7)
    # the value stays the cross-entropy
    assert loss.item() == pytest.approx(
        F.cross_entropy(z0, labels()).item(), abs=1e-6)


# --- alpha = 1 is the cross-entropy, value and gradient --------------------


def _ce_pair(kwargs, target, call_kwargs=None):
    """Value and gradient of our loss at alpha 1 and of mmpretrain's
    CrossEntropyLoss (soft or hard) with the same arguments."""
    call_kwargs = call_kwargs or {}
    ours = TamperedCrossEntropyLoss(alpha=1., **kwargs)
    theirs = CrossEntropyLoss(use_soft=target.is_floating_point(), **kwargs)
    upstream = torch.linspace(0.5, 2., 5) \
        if call_kwargs.get('reduction_override', kwargs.get(
            'reduction')) == 'none' else None
    a = grad_of(lambda z: ours(z, target, **call_kwargs), upstream=upstream)
    b = grad_of(lambda z: theirs(z, target, **call_kwargs),
                upstream=upstream)
    return a, b


@pytest.mark.parametrize('soft', [False, True])
@pytest.mark.parametrize('setting', [
    ({}, {}),
    ({}, {'avg_factor': 7.}),
    ({'reduction': 'sum'}, {}),
    ({'reduction': 'none'}, {}),
    ({}, {'reduction_override': 'none'}),
    ({'reduction': 'none'}, {'avg_factor': 5.}),  # per sample, as mmpretrain
    ({'loss_weight': 0.3}, {}),
    ({'loss_weight': 2.}, {'weight': torch.tensor([1., 0., .5, 2., 3.])}),
    ({'reduction': 'sum'}, {'weight': torch.tensor([1., 0., .5, 2., 3.])}),
])
def test_alpha_one_equals_cross_entropy(soft, setting):
    kwargs, call_kwargs = setting
    target = soft_targets() if soft else labels()
    (loss, grad), (ce_loss, ce_grad) = _ce_pair(kwargs, target, call_kwargs)
    torch.testing.assert_close(loss, ce_loss, rtol=0, atol=1e-6)
    torch.testing.assert_close(grad, ce_grad, rtol=0, atol=1e-6)


def test_forward_equals_cross_entropy_for_any_alpha():
    z = torch.tensor(LOGITS)
    for alpha in (0., 0.3, 1.):
        loss = TamperedCrossEntropyLoss(alpha=alpha)
        assert loss(z, labels()).item() == pytest.approx(
            F.cross_entropy(z, labels()).item(), abs=1e-6)
        assert loss(z, soft_targets()).item() == pytest.approx(
            F.cross_entropy(z, soft_targets()).item(), abs=1e-6)


def test_soft_targets_gradient():
    """Mixup scores q: (p' - q) / N."""
    _, grad = grad_of(
        lambda z: TamperedCrossEntropyLoss(alpha=0.3)(z, soft_targets()))
    expected = (torch.tensor(LOGITS).mul(0.3).softmax(1) - soft_targets()) / 5
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-7)


def test_reductions_and_weights_reach_the_tampered_gradient():
    """The reduction's factors scale p' - q row by row: 'none' with an
    incoming gradient v (v_n), 'mean' with avg_factor and weights
    (w_n / avg_factor), loss_weight on everything."""
    z0 = torch.tensor(LOGITS)
    base = z0.mul(0.3).softmax(1) - F.one_hot(labels(), 4)
    v = torch.tensor([1., -2., 0.5, 0., 3.])
    losses, grad = grad_of(
        lambda z: TamperedCrossEntropyLoss(alpha=0.3, reduction='none')(
            z, labels()), upstream=v)
    assert losses.shape == (5, )
    torch.testing.assert_close(
        losses, F.cross_entropy(z0, labels(), reduction='none'))
    torch.testing.assert_close(grad, base * v[:, None], rtol=0, atol=1e-7)
    w = torch.tensor([1., 0., .5, 2., 3.])
    loss, grad = grad_of(lambda z: TamperedCrossEntropyLoss(
        alpha=0.3, loss_weight=0.5)(z, labels(), weight=w, avg_factor=4.))
    assert loss.item() == pytest.approx(
        0.5 * (F.cross_entropy(z0, labels(), reduction='none') * w).sum()
        .item() / 4, abs=1e-6)
    torch.testing.assert_close(
        grad, base * (0.5 * w / 4)[:, None], rtol=0, atol=1e-7)


def test_label_smoothing_matches_mmpretrain():
    """label_smooth_val: the cross-entropy with q = 0.9 one-hot + 0.1 / C,
    mmpretrain's LabelSmoothLoss ('original') at alpha 1, p' - q below."""
    for target in (labels(), soft_targets()):
        (loss, grad), (ref, ref_grad) = (
            grad_of(lambda z: TamperedCrossEntropyLoss(
                alpha=1., label_smooth_val=0.1)(z, target)),
            grad_of(lambda z: LabelSmoothLoss(label_smooth_val=0.1)(
                z, target)))
        torch.testing.assert_close(loss, ref, rtol=0, atol=1e-6)
        torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-6)
    q = 0.9 * F.one_hot(labels(), 4) + 0.1 / 4
    _, grad = grad_of(lambda z: TamperedCrossEntropyLoss(
        alpha=0.3, label_smooth_val=0.1)(z, labels()))
    torch.testing.assert_close(
        grad, (torch.tensor(LOGITS).mul(0.3).softmax(1) - q) / 5, rtol=0,
        atol=1e-7)


def test_unnormalised_scores_keep_the_exact_gradient():
    """Scores not summing to 1: the cross-entropy's gradient is p sum(q) -
    q, and the tampered one p' sum(q) - q (alpha 1: autograd's)."""
    q = soft_targets() * torch.tensor([[1.], [2.], [0.5], [1.], [3.]])
    (_, grad), (_, ref) = (
        grad_of(lambda z: TamperedCrossEntropyLoss(alpha=1.)(z, q)),
        grad_of(lambda z: -(q * z.log_softmax(1)).sum(1).mean()))
    torch.testing.assert_close(grad, ref, rtol=0, atol=1e-6)


def test_low_precision_logits():
    """bf16 logits: computed in float32, the gradient returns in bf16."""
    z = torch.tensor(LOGITS, dtype=torch.bfloat16, requires_grad=True)
    loss = TamperedCrossEntropyLoss(alpha=0.3)(z, labels())
    loss.backward()
    assert loss.dtype == torch.float32 and z.grad.dtype == torch.bfloat16
    expected = (z.detach().float().mul(0.3).softmax(1) -
                F.one_hot(labels(), 4)) / 5
    torch.testing.assert_close(z.grad.float(), expected, rtol=0, atol=1e-2)


def test_functional_form_sends_no_gradient_to_the_scores():
    z = logits()
    q = soft_targets().requires_grad_()
    tampered_cross_entropy(z, q, 0.3).sum().backward()
    assert q.grad is None
    torch.testing.assert_close(
        z.grad, torch.tensor(LOGITS).mul(0.3).softmax(1) - q.detach())


# --- the paper's appendix code ---------------------------------------------


def appendix_hook(grad, q, alpha):
    """The arithmetic of the paper's appendix hook on the logits (the same
    in the official timm fork): p is recovered as grad / N + q, and (p' -
    q) * N returned."""
    n = grad.shape[0]
    p = grad / n + q
    p = p**alpha
    p = p / p.sum(-1, keepdim=True)
    return (p - q) * n


def test_appendix_code_is_inexact_for_a_mean_reduced_loss():
    """With the gradient of the mean-reduced cross-entropy, (p - q) / N,
    the hook recovers a wrong p and scales by N: it does not give (p' -
    q) / N (ours); it does for N = 1, and for an incoming N (p - q) (a
    mean loss scaled by N^2, e.g. AMP's 2^16 at 256 images per GPU), where
    its output N (p' - q) is ours with that scale."""
    q = F.one_hot(labels(), 4).float()
    z = torch.tensor(LOGITS)
    ce_grad = (z.softmax(1) - q) / 5  # mean-reduced cross-entropy
    ours = (z.mul(0.3).softmax(1) - q) / 5
    hooked = appendix_hook(ce_grad, q, 0.3)
    assert (hooked - ours).abs().max() > 0.5
    # recovered "probabilities" are not softmax(z)
    assert not torch.allclose(ce_grad / 5 + q, z.softmax(1), atol=1e-2)
    # one sample: exact
    torch.testing.assert_close(
        appendix_hook(ce_grad[:1] * 5, q[:1], 0.3), ours[:1] * 5)
    # incoming N (p - q): the output is N (p' - q)
    torch.testing.assert_close(
        appendix_hook(ce_grad * 25, q, 0.3), ours * 25, rtol=0, atol=1e-6)
    # ours follows any scale of the loss exactly
    _, grad = grad_of(lambda z: 25 * TamperedCrossEntropyLoss(alpha=0.3)(
        z, labels()))
    torch.testing.assert_close(grad, ours * 25, rtol=0, atol=1e-6)


# --- inside mmpretrain's heads ---------------------------------------------


def _samples(soft: bool):
    samples = [DataSample().set_gt_label(int(y)) for y in LABELS]
    if soft:
        for s, q in zip(samples, soft_targets()):
            s.set_gt_score(q)
    return samples


@pytest.mark.parametrize('head_type', ['LinearClsHead',
                                       'VisionTransformerClsHead'])
@pytest.mark.parametrize('soft', [False, True])
def test_cls_heads_give_the_tampered_gradient(head_type, soft):
    """A head's loss -> loss_module(cls_score, target, avg_factor=N): the
    gradient at the head's output is (softmax(alpha z) - q) / N, so the
    final linear layer's is its outer product with the features."""
    import mmvitplug  # noqa: F401
    torch.manual_seed(0)
    head = MMPRETRAIN_MODELS.build(
        dict(type=head_type, num_classes=4, in_channels=6,
             loss=dict(type='mmvitplug.TamperedCrossEntropyLoss',
                       alpha=0.3)))
    assert isinstance(head.loss_module, TamperedCrossEntropyLoss)
    fc = head.fc if head_type == 'LinearClsHead' else head.layers.head
    feats = torch.randn(5, 6)
    losses = head.loss((feats, ), _samples(soft))
    losses['loss'].backward()
    z = fc(feats).detach()
    q = soft_targets() if soft else F.one_hot(labels(), 4).float()
    assert losses['loss'].item() == pytest.approx(
        F.cross_entropy(z, q if soft else labels()).item(), abs=1e-6)
    dz = (z.mul(0.3).softmax(1) - q) / 5
    torch.testing.assert_close(fc.weight.grad, dz.t() @ feats, rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(fc.bias.grad, dz.sum(0), rtol=0, atol=1e-6)


def test_registered_in_our_scope():
    loss = MODELS.build(
        dict(type='TamperedCrossEntropyLoss', alpha=0.05,
             label_smooth_val=0.1, reduction='sum', loss_weight=2.))
    assert (loss.alpha, loss.label_smooth_val, loss.reduction,
            loss.loss_weight) == (0.05, 0.1, 'sum', 2.)


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize('kwargs, error, match', [
    ({'alpha': 1.5}, ValueError, r'alpha must be in \[0, 1\]'),
    ({'alpha': -0.1}, ValueError, r'alpha must be in \[0, 1\]'),
    ({'alpha': True}, TypeError, 'alpha must be a real number'),
    ({'alpha': '0.3'}, TypeError, 'alpha must be a real number'),
    ({'label_smooth_val': 1.}, ValueError, r'label_smooth_val .*\[0, 1\)'),
    ({'label_smooth_val': None}, TypeError, 'label_smooth_val must be'),
    ({'reduction': 'avg'}, ValueError, "reduction must be one of"),
    ({'loss_weight': -1.}, ValueError, 'loss_weight'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TamperedCrossEntropyLoss(**kwargs)


@pytest.mark.parametrize('args, kwargs, match', [
    ((torch.tensor([0, 4, 1, 2, 0]), ), {}, r'class indices in \[0, 4\)'),
    ((torch.tensor([0, 1, 2]), ), {}, '3 labels for 5 samples'),
    ((torch.rand(5, 3), ), {}, 'shape of cls_score'),
    ((torch.ones(5, 4, dtype=torch.long), ), {}, 'integer class indices'),
    ((torch.tensor(LABELS), ), {'weight': torch.ones(5, 1)},
     'per-sample weights'),
    ((torch.tensor(LABELS), ), {'reduction_override': 'max'},
     'reduction_override must be one of'),
    ((torch.tensor(LABELS), ), {'reduction_override': 'sum',
                                'avg_factor': 5.}, 'avg_factor'),
])
def test_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TamperedCrossEntropyLoss()(torch.tensor(LOGITS), *args, **kwargs)


def test_bad_logits_and_unknown_arguments():
    loss = TamperedCrossEntropyLoss()
    with pytest.raises(ValueError, match=r'cls_score must be .*\(N, C\)'):
        loss(torch.zeros(5, 4, 2), labels())
    with pytest.raises(ValueError, match='cls_score must be'):
        loss(torch.zeros(5, 4, dtype=torch.long), labels())
    with pytest.raises(TypeError, match='label must be a tensor'):
        loss(torch.tensor(LOGITS), LABELS)
    with pytest.raises(TypeError, match='class_weight'):
        loss(torch.tensor(LOGITS), labels(), class_weight=None)


# --- configs ---------------------------------------------------------------


def test_imagenet_configs_are_the_papers():
    """Table 1's ResNet-50 (alpha 0.05) and ablation row 6 (alpha 0.3 with
    label smoothing 0.1)."""
    losses = {
        name: Config.fromfile(f'configs/gradient_tampering/{name}-resnet50-'
                              'w64_4xb256_in1k.py').model.head.loss
        for name in ('sgt', 'sgt-ls')
    }
    assert losses['sgt'] == dict(
        type='mmvitplug.TamperedCrossEntropyLoss', alpha=0.05)
    assert losses['sgt-ls'] == dict(
        type='mmvitplug.TamperedCrossEntropyLoss', alpha=0.3,
        label_smooth_val=0.1)


@pytest.mark.parametrize('arch, alpha', [('deit-4l192d-p8_1xb16', 0.3),
                                         ('resnet18-w32_1xb64', 0.25)])
def test_digits_pair_differs_only_in_the_loss(arch, alpha):
    folder = 'configs/bundled/gradient_tampering/'
    sgt = Config.fromfile(f'{folder}sgt-{arch}_digits.py')
    sup = Config.fromfile(f'{folder}sup-{arch}_digits.py')
    assert sgt.model.head.pop('loss') == dict(
        type='mmvitplug.TamperedCrossEntropyLoss', alpha=alpha)
    assert sup.model.head.pop('loss') == dict(
        type='CrossEntropyLoss', loss_weight=1.0)
    assert sgt.to_dict() == sup.to_dict()
