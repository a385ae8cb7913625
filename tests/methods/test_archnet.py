# Copyright (c) mmvitplug contributors.
"""Arch-Net: the quantisers, the student, its adapters, the period loss and
the teacher initialisation reproduce the official code (golden values made
by running megvii-research/Arch-Net f43bab2); the period hook, the
converters and every argument and error."""
import os.path as osp
import re
import zlib
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmpretrain.models import ImageClassifier, ResNet
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.converters import (archnet_init_from_resnet,
                                  convert_archnet_resnet)
from mmvitplug.engine import PeriodicCosineRestartLR
from mmvitplug.engine.hooks import ArchNetPeriodHook, period_of
from mmvitplug.layers import (ActQuant, QuantConv2d, QuantLinear,
                              quantize_activation, quantize_weight,
                              quantize_weight_rowwise, round_ste)
from mmvitplug.models.backbones import ArchNetResNet
from mmvitplug.models.backbones.archnet_resnet import SplitUnit
from mmvitplug.models.distill import (ArchNetAdapterConnector,
                                      ArchNetResNetDistiller)
from mmvitplug.models.heads import QuantLinearClsHead
from mmvitplug.models.losses import ArchNetLoss
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'archnet_golden.pt')
# golden (official megvii-research/Arch-Net f43bab2): archnet_resnet18(2, 4,
# squeeze_factor=24) (1000 classes) and the official teacher resnet18(),
# every tensor filled by fill() below under its official name (the
# teacher's as 'teacher.' + name); 'live': the student's running variances
# then x 0.01 (so that its 4-bit activations are not all 0); 2 images of
# 32 x 32, eval mode; the period losses of train_archnet_resnet18.py, the
# p = 25 gradients; the quantisers on seeded tensors; the teacher -> student
# initialisation.


def fill(name, t, var_scale=1.):
    """The golden file's weights: seeded by the official name."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    leaf = name.rsplit('.', 1)[-1]
    if leaf == 'num_batches_tracked':
        return
    if leaf == 'running_var':
        v = (1 + 0.5 * torch.rand(t.shape, generator=g)) * var_scale
    elif leaf == 'running_mean':
        v = 0.1 * torch.randn(t.shape, generator=g)
    elif t.dim() == 1 and leaf == 'weight':
        v = 1 + 0.1 * torch.randn(t.shape, generator=g)
    elif t.dim() == 1:
        v = 0.1 * torch.randn(t.shape, generator=g)
    else:
        v = torch.randn(t.shape, generator=g) * (2.0 / t[0].numel())**0.5
    with torch.no_grad():
        t.copy_(v)


def checksums(t):
    t = t.detach().double()
    return torch.tensor([t.sum(), t.abs().sum(), t.pow(2).sum()])


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN)


def official_student_state(golden, var_scale):
    """The official student's filled state dict (adapters included)."""
    state = {}
    for name, shape in golden['student_keys']:
        t = torch.zeros(shape, dtype=torch.long if name.endswith(
            'num_batches_tracked') else torch.float32)
        if t.is_floating_point():
            fill(name, t, var_scale)
        state[name] = t
    return state


def official_teacher_state(golden):
    """The official (torchvision) teacher's filled state dict."""
    state = {}
    for name, shape in golden['teacher_keys']:
        t = torch.zeros(shape, dtype=torch.long if name.endswith(
            'num_batches_tracked') else torch.float32)
        if t.is_floating_point():
            fill('teacher.' + name, t)
        state[name] = t
    return state


def adapter_name(official: str):
    """An official adapter-head key -> ours (distiller.connectors.a{k}),
    None for other keys."""
    m = re.fullmatch(r'layer(\d)\.(\d)\.(feature_adaptation_(\d)_(\d)|'
                     r'fc(\d)_(\d))\.(weight|bias)', official)
    if m is None:
        return None
    block = 2 * (int(m[1]) - 1) + int(m[2])
    if m[4]:
        k = 3 * block + int(m[4])
        return f'distiller.connectors.a{k}.conv{m[5]}.{m[8]}'
    k = 3 * block + int(m[6])
    return f'distiller.connectors.a{k}.gate.{2 * (int(m[7]) - 1)}.{m[8]}'


def samples(n):
    return [DataSample().set_gt_label(0) for _ in range(n)]


# ----------------------------------------------------------- quantisers
def test_weight_quantiser_matches_official(golden):
    w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(1))
    r = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(2))
    for bits in (2, 4):
        w.grad = None
        w.requires_grad_(True)
        q = quantize_weight(w, bits)
        torch.testing.assert_close(q, golden[f'wq{bits}'])
        (q * r).sum().backward()
        torch.testing.assert_close(w.grad, golden[f'wq{bits}_grad'])
        # straight through everything but the tanh
        torch.testing.assert_close(w.grad, r * (1 - torch.tanh(w)**2))
        w = w.detach()
    # 2 bits: 4 levels s * {-1/2, -1/6, 1/6, 1/2}, s = 2 mean|tanh(w)|
    q = quantize_weight(w, 2)
    s = 2 * torch.tanh(w).abs().mean()
    torch.testing.assert_close(
        q.unique(), s * torch.tensor([-.5, -1 / 6, 1 / 6, .5]))


def test_rowwise_quantiser_matches_official(golden):
    w = torch.randn(10, 64, generator=torch.Generator().manual_seed(3))
    r = torch.randn(10, 64, generator=torch.Generator().manual_seed(4))
    w.requires_grad_(True)
    q = quantize_weight_rowwise(w, 8)
    torch.testing.assert_close(q, golden['fcq8'])
    (q * r).sum().backward()
    # gradients reach the row means and scales
    torch.testing.assert_close(w.grad, golden['fcq8_grad'])
    assert all(len(row.unique()) <= 256 for row in q)


def test_activation_quantiser_matches_official(golden):
    x = 12 * torch.randn(
        4, 8, 5, 5, generator=torch.Generator().manual_seed(5))
    r = torch.randn(4, 8, 5, 5, generator=torch.Generator().manual_seed(6))
    x.requires_grad_(True)
    q = ActQuant(4)(x)
    torch.testing.assert_close(q, golden['aq4'])
    (q * r).sum().backward()
    torch.testing.assert_close(x.grad, golden['aq4_grad'])
    # 16 levels in [0, 1]; gradient 0.1 inside the clip, 0 outside
    assert len(q.unique()) <= 16 and q.min() >= 0 and q.max() <= 1
    inside = (x > 0) & (x < 10)
    torch.testing.assert_close(x.grad, 0.1 * r * inside)


def test_logit_clip_matches_official(golden):
    x = 30 * torch.randn(4, 10, generator=torch.Generator().manual_seed(7))
    r = torch.randn(4, 10, generator=torch.Generator().manual_seed(8))
    head = QuantLinearClsHead(10, 10, w_bits=None)
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(10))
        head.fc.bias.zero_()
    x.requires_grad_(True)
    out = head((x, ))
    torch.testing.assert_close(out, golden['logit_clip'])
    (out * r).sum().backward()
    torch.testing.assert_close(x.grad, golden['logit_clip_grad'])


def test_round_ste_rounds_half_up():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, 0.49], requires_grad=True)
    y = round_ste(x)
    assert y.tolist() == [1., 2., 3., 0., 0.]  # torch.round: 0, 2, 2, -0
    y.sum().backward()
    assert x.grad.tolist() == [1.] * 5


def test_full_precision_layers_are_plain():
    torch.manual_seed(0)
    conv = QuantConv2d(3, 4, 3, padding=1, w_bits=None)
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(conv(x),
                               F.conv2d(x, conv.weight, conv.bias, 1, 1))
    lin = QuantLinear(4, 3, w_bits=None)
    v = torch.randn(2, 4)
    torch.testing.assert_close(lin(v), F.linear(v, lin.weight, lin.bias))
    assert ActQuant(None)(v) is v
    # quantised: the layers use the quantised weights
    conv.w_bits = 2
    torch.testing.assert_close(
        conv(x),
        F.conv2d(x, quantize_weight(conv.weight, 2), conv.bias, 1, 1))
    lin = QuantLinear(4, 3, w_bits=4, rowwise=False)
    torch.testing.assert_close(
        lin(v), F.linear(v, quantize_weight(lin.weight, 4), lin.bias))
    assert 'w_bits=4' in repr(lin) and 'bits=None' in repr(ActQuant(None))


def test_activation_scale_and_bits():
    x = torch.linspace(-1, 30, 200)
    q = quantize_activation(x, 2, scale=0.05)  # clips at 20, 4 levels
    torch.testing.assert_close(q.unique(),
                               torch.tensor([0., 1 / 3, 2 / 3, 1.]))
    assert q[x >= 20].eq(1).all() and q[x <= 0].eq(0).all()
    assert torch.equal(ActQuant(2, 0.05)(x), q)


@pytest.mark.parametrize('bits', [0, 17, 2.0, True, '4'])
def test_bad_bits(bits):
    with pytest.raises(ValueError, match=r'w_bits must be an int in \[1, 16'):
        QuantConv2d(3, 4, 3, w_bits=bits)
    with pytest.raises(ValueError, match='a_bits must be an int'):
        ActQuant(bits)


def test_bad_activation_scale():
    with pytest.raises(ValueError, match='scale must be > 0'):
        ActQuant(4, scale=0)


# -------------------------------------------------------------- student
def build_student(**kwargs):
    cfg = dict(arch=dict(depths=[1, 1, 1, 1], widths=[8, 16, 24, 32]))
    cfg.update(kwargs)
    return ArchNetResNet(**cfg)


def deployed_student(depth):
    """The ImageNet Arch-Net ResNet-``depth`` as deployed."""
    return ImageClassifier(
        backbone=dict(type='mmvitplug.ArchNetResNet', arch=f'resnet{depth}'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmvitplug.QuantLinearClsHead', num_classes=1000,
                  in_channels=2048 if depth == 50 else 512))


def deployed_logits(model, state, x):
    """``model``'s eval logits with ``state`` loaded (only the BN counters
    may be missing)."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k.endswith('num_batches_tracked') for k in missing)
    model.eval()
    with torch.no_grad():
        return model(x, mode='tensor')


def test_student_matches_official_deployed_logits(golden):
    """The official student's weights through the registered converter:
    the deployed logits of the official model (its adapters dropped)."""
    state = convert_archnet_resnet(official_student_state(golden, 0.01))
    assert not any('adapt' in k or 'fc1_' in k for k in state)
    logits = deployed_logits(deployed_student(18), state, golden['x'])
    # a near-tie of the 8-bit classifier's rounding: ~1e-4 (the helper's
    # float64 rerun of the official code moves the logits by 2.3e-4)
    torch.testing.assert_close(
        logits, golden['live']['student_deployed'], atol=1e-3, rtol=0)


def test_converter_refuses_unknown_keys(golden):
    state = official_student_state(golden, 1.)
    state['layer1.0.extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match="layer1.0.extra.weight"):
        convert_archnet_resnet(state)


def official_archnet(teacher_state, path, depth):
    """The ImageNet Arch-Net of ResNet-``depth`` (the recipe's student,
    distiller and teacher), the teacher loaded from the official
    (torchvision) ``teacher_state`` saved at ``path``."""
    torch.save({'state_dict': {
        ('head.' + k if k.startswith('fc.') else 'backbone.' + k): v
        for k, v in teacher_state.items()}}, path)
    channels = 2048 if depth == 50 else 512
    return MODELS.build(
        dict(
            type='mmvitplug.ArchNetClassifier',
            backbone=dict(type='mmvitplug.ArchNetResNet',
                          arch=f'resnet{depth}'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='mmvitplug.QuantLinearClsHead', num_classes=1000,
                      in_channels=channels),
            teacher=dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=1000,
                          in_channels=channels)),
            teacher_ckpt=path,
            distiller=dict(
                type='mmvitplug.ArchNetResNetDistiller',
                depths=ResNet.arch_settings[depth][1],
                widths=[64, 128, 256, 512],
                block='bottleneck' if depth == 50 else 'basic')))


@pytest.fixture(scope='module')
def official_setup(golden, tmp_path_factory):
    """The ResNet-18 Arch-Net of the recipe (ArchNetResNetDistiller) with the
    golden weights (the live variant), in eval mode."""
    model = official_archnet(
        official_teacher_state(golden),
        str(tmp_path_factory.mktemp('archnet') / 'teacher.pth'), 18)
    official = official_student_state(golden, 0.01)
    state = convert_archnet_resnet(official)
    state.update({
        adapter_name(k): v
        for k, v in official.items() if adapter_name(k) is not None
    })
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(
        k.endswith('num_batches_tracked') or k.endswith('.period')
        for k in missing), missing
    model.eval()
    return model


def test_period_losses_match_official(golden, official_setup):
    """Every period's loss: the algorithm's in period 25, then the loss of
    each period on the same (eval-mode) outputs: one forward pass."""
    model = official_setup
    loss = model.distiller.losses['loss_archnet']
    inputs = {}
    handle = loss.register_forward_pre_hook(
        lambda m, args, kwargs: inputs.update(kwargs), with_kwargs=True)
    try:
        with torch.no_grad():
            loss.set_period(25)
            value = model.loss(golden['x'], samples(2))['loss_archnet']
    finally:
        handle.remove()
    torch.testing.assert_close(
        value.item(), golden['live']['loss'][25], rtol=2e-5, atol=0)
    for p in range(26):
        loss.set_period(p)
        torch.testing.assert_close(
            loss(**inputs).item(), golden['live']['loss'][p], rtol=2e-5,
            atol=0, msg=f'period {p}')


def test_outputs_and_gradients_match_official(golden, official_setup):
    model = official_setup
    distiller = model.distiller
    distiller.losses['loss_archnet'].set_period(25)
    model.zero_grad()
    outputs = {}
    # the 26 student outputs the loss compares (adapted)
    loss_module = distiller.losses['loss_archnet']
    handle = loss_module.register_forward_pre_hook(
        lambda m, args, kwargs: outputs.update(kwargs), with_kwargs=True)
    try:
        model.loss(golden['x'], samples(2))['loss_archnet'].backward()
    finally:
        handle.remove()
    for i, (s, want) in enumerate(
            zip(outputs['student'],
                golden['live']['student_outs_checksums'])):
        torch.testing.assert_close(
            checksums(s), torch.tensor(want, dtype=torch.float64),
            rtol=2e-4, atol=1e-3, msg=f'output {i}')
    for i, (t, want) in enumerate(
            zip(outputs['teacher'], golden['teacher_outs_checksums'])):
        torch.testing.assert_close(
            checksums(t), torch.tensor(want, dtype=torch.float64),
            rtol=1e-4, atol=1e-3, msg=f'teacher output {i}')
    # the official teacher's aliasing: targets 3b - 1 and 3b are one tensor
    for a, b in golden['teacher_alias_pairs']:
        assert torch.equal(outputs['teacher'][a], outputs['teacher'][b])
    ours = {
        'conv1.conv_Q.weight': 'backbone.stem.0.conv.weight',
        'layer1.0.conv1.conv_Q.weight':
        'backbone.stages.0.0.conv1.conv.weight',
        'layer2.0.downsample.0.conv_Q.weight':
        'backbone.stages.1.0.downsample.conv.weight',
        'layer4.0.concat_conv1.conv_Q.weight':
        'backbone.stages.3.0.merge.0.conv.weight',
        'layer4.0.concat_conv2.conv_Q.weight':
        'backbone.stages.3.0.merge.1.conv.weight',
        'fc.linear_Q.weight': 'head.fc.weight',
        'fc.linear_Q.bias': 'head.fc.bias',
        'layer3.1.fc3_1.weight': adapter_name('layer3.1.fc3_1.weight'),
        'layer3.1.feature_adaptation_3_1.weight':
        adapter_name('layer3.1.feature_adaptation_3_1.weight'),
    }
    params = dict(model.named_parameters())
    for official, name in ours.items():
        want = torch.tensor(
            golden['live']['grads_p25_stats'][official], dtype=torch.float64)
        torch.testing.assert_close(
            checksums(params[name].grad), want, rtol=2e-3, atol=1e-6,
            msg=official)
    for official, grad in golden['live']['grads_p25_small'].items():
        torch.testing.assert_close(
            params[ours[official]].grad, grad, rtol=2e-3, atol=1e-6)


def test_teacher_initialisation_matches_official(golden):
    teacher = official_teacher_state(golden)
    init = archnet_init_from_resnet(teacher)
    # the official init changes exactly these student keys
    copied = convert_archnet_resnet(
        {k: torch.zeros(1) for k in golden['init_copied']})
    assert set(init) - {k for k in init if 'num_batches' in k} == set(copied)
    torch.testing.assert_close(
        init['backbone.stages.1.0.downsample.conv.weight'][:4],
        golden['init_layer2_downsample'])
    down = init['backbone.stages.1.0.downsample.conv.weight']
    assert torch.equal(down[:, :, 1, 1],
                       teacher['layer2.0.downsample.0.weight'][:, :, 0, 0])
    off = torch.ones(3, 3, dtype=torch.bool)
    off[1, 1] = False
    assert (down[:, :, off] == 1e-10).all()
    assert init['backbone.stages.0.1.conv2.conv.weight'] is \
        teacher['layer1.1.conv2.weight']
    # the mmpretrain layout gives the same
    mm = {('head.' + k if k.startswith('fc.') else 'backbone.' + k): v
          for k, v in teacher.items()}
    again = archnet_init_from_resnet({'state_dict': mm})
    assert set(again) == set(init)


def test_teacher_initialisation_errors():
    with pytest.raises(KeyError, match='not a ResNet in the torchvision'):
        archnet_init_from_resnet({'stem.0.weight': torch.zeros(1)})
    state = {'layer1.0.conv1.weight': torch.zeros(4, 4, 3, 3),
             'layer1.0.bn1.weight': torch.zeros(4),
             'fc.weight': torch.zeros(2, 4),
             'layer1.0.conv4.weight': torch.zeros(4, 4, 1, 1)}
    with pytest.raises(KeyError, match="'layer1.0.conv4.weight'"):
        archnet_init_from_resnet(state)
    state.pop('layer1.0.conv4.weight')
    state['layer2.0.downsample.0.weight'] = torch.zeros(4, 4, 3, 3)
    with pytest.raises(KeyError, match='downsample.conv.weight is not a 1x1 '
                       r'convolution \(shape'):
        archnet_init_from_resnet(state)
    state['layer2.0.downsample.0.weight'] = torch.zeros(4, 4, 1, 1)
    state['layer1.0.conv2.weight'] = torch.zeros(4, 4, 5, 5)
    with pytest.raises(KeyError, match='conv2.conv.weight is not a 1x1 or '
                       '3x3 convolution'):
        archnet_init_from_resnet(state)


def test_teacher_initialisation_of_bottlenecks(tmp_path):
    """A bottleneck teacher: 3x3 copied, 1x1 centred (conv1, conv3,
    downsampling), BNs copied; convolutions of more than max_conv_in inputs
    (split in the student) and their BNs left out, as officially."""
    teacher = tiny_archnet(tmp_path, depth=50).teacher.state_dict()
    init = archnet_init_from_resnet(teacher, max_conv_in=64)
    off = torch.ones(3, 3, dtype=torch.bool)
    off[1, 1] = False
    for tkey, skey in (('layer1.0.conv1', 'stages.0.0.conv1'),
                       ('layer2.1.conv3', 'stages.1.1.conv3'),
                       ('layer3.0.downsample.0', 'stages.2.0.downsample')):
        got = init[f'backbone.{skey}.conv.weight']
        want = teacher[f'backbone.{tkey}.weight']
        assert want.shape[2:] == (1, 1) and got.shape[2:] == (3, 3)
        assert torch.equal(got[:, :, 1, 1], want[:, :, 0, 0])
        assert (got[:, :, off] == 1e-10).all()
    assert init['backbone.stages.3.1.conv2.conv.weight'] is \
        teacher['backbone.layer4.1.conv2.weight']
    assert init['backbone.stages.2.3.conv3.bn.running_var'] is \
        teacher['backbone.layer3.3.bn3.running_var']
    # layer3.1 onwards sees 128 > 64 inputs: conv1 split, as layer4.0's
    # downsampling (128 inputs); layer3.0 (64 inputs) is not
    assert 'backbone.stages.2.0.conv1.conv.weight' in init
    assert 'backbone.stages.2.0.downsample.bn.weight' in init
    for unit in ('stages.2.1.conv1', 'stages.3.2.conv1',
                 'stages.3.0.downsample'):
        assert not any(k.startswith(f'backbone.{unit}.') for k in init), unit
    # with a wider bound nothing is split
    wide = archnet_init_from_resnet(teacher, max_conv_in=512)
    assert 'backbone.stages.3.0.downsample.conv.weight' in wide


def test_student_has_only_simple_operators():
    model = build_student(max_conv_in=32)
    allowed = (QuantConv2d, nn.BatchNorm2d, nn.ReLU, ActQuant, nn.MaxPool2d,
               nn.Sequential, nn.ModuleList, ArchNetResNet)
    kinds = {type(m) for m in model.modules()} - {
        type(m) for m in model.modules() if type(m).__name__ in (
            'ConvBNAct', 'ConcatBasicBlock')}
    assert all(issubclass(k, allowed) for k in kinds), kinds
    for m in model.modules():
        if isinstance(m, QuantConv2d):
            assert m.kernel_size == (3, 3) and m.in_channels <= 32
            assert m.bias is None and m.w_bits == 2
            assert len(m.quantized_weight().unique()) <= 4
        if isinstance(m, nn.MaxPool2d):
            assert m.kernel_size == 2 and m.stride == 2
    # stages of 24 and 32 channels (48- and 64-channel concatenations)
    # merge in 2 groups
    assert model.splits == [1, 1, 2, 2]
    assert len(model.stages[3][0].merge) == 2


def test_block_concatenates_instead_of_adding():
    torch.manual_seed(0)
    model = build_student(max_conv_in=32).eval()
    block = model.stages[3][0]  # stride 2, downsampling, 2 merge groups
    x = torch.rand(2, 24, 8, 8)
    out2 = block.conv2(block.conv1(x))
    identity = block.downsample(x)
    want = torch.cat([
        block.merge[0](torch.cat([out2[:, :16], identity[:, :16]], 1)),
        block.merge[1](torch.cat([out2[:, 16:], identity[:, 16:]], 1))
    ], 1)
    torch.testing.assert_close(block(x), want)
    # activations: 16 levels in [0, 1]
    assert len(block(x).unique()) <= 16 and block(x).max() <= 1
    # the first stage keeps the width: no downsampling unit
    assert model.stages[0][0].downsample is None


def test_bottleneck_splits_wide_convolutions():
    """Bottlenecks: conv1 -> conv2 (strided) -> conv3 (4 x planes), merged
    with the identity by concatenation; every convolution wider than
    max_conv_in is a SplitUnit over equal input groups, concatenated."""
    torch.manual_seed(0)
    model = build_student(
        arch=dict(depths=[1, 1, 2, 1], widths=[8, 16, 24, 32],
                  block='bottleneck'), max_conv_in=64).eval()
    assert model.embed_dims == [32, 64, 96, 128]
    assert model.splits == [1, 2, 3, 4]
    for m in model.modules():
        if isinstance(m, QuantConv2d):
            assert m.kernel_size == (3, 3) and m.in_channels <= 64
    # stage 3's second block sees 96 channels: conv1 in 2 groups of 48
    block = model.stages[2][1]
    assert isinstance(block.conv1, SplitUnit) and len(block.conv1) == 2
    x = torch.rand(2, 96, 4, 4)
    torch.testing.assert_close(
        block.conv1(x),
        torch.cat([block.conv1[0](x[:, :48]), block.conv1[1](x[:, 48:])],
                  1))
    out = block.conv3(block.conv2(block.conv1(x)))
    want = torch.cat([
        m(torch.cat([o, i], 1)) for m, o, i in zip(
            block.merge, out.chunk(3, 1), x.chunk(3, 1))
    ], 1)
    torch.testing.assert_close(block(x), want)
    # stage 4's first block (96 inputs): split conv1 of stride 1, the
    # stride on conv2, a split 3x3 downsampling
    first = model.stages[3][0]
    assert [u.conv.stride for u in first.conv1] == [(1, 1)] * 2
    assert first.conv2.conv.stride == (2, 2)
    assert isinstance(first.downsample, SplitUnit)
    assert [u.conv.stride for u in first.downsample] == [(2, 2)] * 2
    # the official widths: ResNet-50's splits
    r50 = ArchNetResNet('resnet50')
    assert r50.splits == [1, 2, 4, 8]
    assert [len(s[1].conv1) if isinstance(s[1].conv1, SplitUnit) else 1
            for s in r50.stages] == [1, 1, 2, 4]


def test_student_maps_at_any_size():
    model = build_student(out_indices=(0, 1, 2, 3)).eval()
    for size in (32, 48, 40):
        outs = model(torch.rand(1, 3, size, size))
        assert [o.shape[1] for o in outs] == [8, 16, 24, 32]
        assert outs[0].shape[-1] == size // 4
    pooled = build_student(out_type='avg_featmap')(torch.rand(2, 3, 32, 32))
    assert pooled[0].shape == (2, 32)


def test_student_bits_and_scale_arguments():
    model = build_student(w_bits=3, a_bits=None, act_scale=0.5)
    conv = model.stem[0].conv
    assert conv.w_bits == 3 and len(conv.quantized_weight().unique()) <= 8
    assert model.stem[0].quant.bits is None
    x = torch.rand(1, 3, 16, 16)
    # full-precision activations: the ReLU outputs themselves
    unit = model.stem[0]
    torch.testing.assert_close(unit(x), F.relu(unit.bn(unit.conv(x))))
    model = build_student(a_bits=2, act_scale=0.5)
    assert model.stem[0].quant.scale == 0.5
    assert len(model.stem[0](x).unique()) <= 4
    fp = build_student(w_bits=None, a_bits=None)
    assert fp.stem[0].conv.w_bits is None
    torch.testing.assert_close(
        fp.stem[0].conv(x), F.conv2d(x, fp.stem[0].conv.weight, padding=1))


def test_student_norm_eval_and_in_channels():
    model = build_student(norm_eval=True, in_channels=1)
    model.train()
    assert not model.stem[0].bn.training
    assert model.stem[0].conv.in_channels == 1
    model = build_student(norm_cfg=dict(type='GN', num_groups=4))
    assert isinstance(model.stem[0].bn, nn.GroupNorm)


def test_student_initialisation():
    model = build_student()
    model.init_weights()
    w = model.stages[1][0].conv1.conv.weight
    # Kaiming normal, fan out, ReLU gain
    assert abs(w.std().item() - (2 / (16 * 9))**0.5) < 0.03
    assert model.stem[0].bn.weight.eq(1).all()


def test_student_arch_errors():
    with pytest.raises(ValueError, match='merges in 2 groups'):
        build_student(arch=dict(depths=[1, 1], widths=[8, 9]),
                      max_conv_in=16)
    with pytest.raises(ValueError, match='max_conv_in must be an int >= 2'):
        build_student(max_conv_in=1)
    with pytest.raises(ValueError, match='resnet50'):
        ArchNetResNet(arch='resnet101')
    with pytest.raises(ValueError, match=r"block must be one of \['basic', "
                       r"'bottleneck'\], got 'plain'"):
        build_student(arch=dict(depths=[1], widths=[8], block='plain'))
    with pytest.raises(ValueError, match='stage 1: a convolution of 36 -> 9 '
                       'channels is split into 2 groups'):
        # the second block's first unit sees 36 channels
        build_student(arch=dict(depths=[1, 2], widths=[8, 9],
                                block='bottleneck'), max_conv_in=32)


def test_zoo_archs():
    r34 = ArchNetResNet('resnet34')
    assert [len(s) for s in r34.stages] == [3, 4, 6, 3]
    assert r34.splits == [1, 1, 1, 2]


# ------------------------------------------------------------ ResNet-50
GOLDEN_R50 = osp.join(TEST_DATA, 'archnet_r50_golden.pt')
# golden (official megvii-research/Arch-Net f43bab2, with one fix:
# resnet50.py line 417 assigns the merged groups to out, not out2, so that
# the second stage's blocks merge as the others): archnet_resnet50(2, 4,
# squeeze_factor=24) and the official teacher resnet50(), filled by fill()
# (the student's running variances x 0.01), the same 2 images; the 66
# period losses of train_archnet_resnet50.py, p = 65 gradients, the
# deployed logits, the teacher -> student initialisation.


@pytest.fixture(scope='module')
def golden_r50():
    return torch.load(GOLDEN_R50)


def _filled(keys, prefix='', var_scale=1.):
    state = {}
    for name, shape in keys:
        t = torch.zeros(shape, dtype=torch.long if name.endswith(
            'num_batches_tracked') else torch.float32)
        if t.is_floating_point():
            fill(prefix + name, t, var_scale)
        state[name] = t
    return state


def _kept(official: dict) -> set:
    """The official keys the converter keeps (all but the adapters)."""
    return {k for k in official if r50_adapter_name(k) is None}


def r50_adapter_name(official: str):
    """An official ResNet-50 adapter-head key -> ours, None for others."""
    m = re.fullmatch(r'layer(\d)\.(\d)\.(feature_adaptation_(\d)_(\d)|'
                     r'fc(\d)_(\d))\.(weight|bias)', official)
    if m is None:
        return None
    block = [0, 3, 7, 13][int(m[1]) - 1] + int(m[2])
    if m[4]:
        return (f'distiller.connectors.a{4 * block + int(m[4])}.conv{m[5]}.'
                f'{m[8]}')
    return (f'distiller.connectors.a{4 * block + int(m[6])}.gate.'
            f'{2 * (int(m[7]) - 1)}.{m[8]}')


def test_r50_student_matches_official(golden_r50):
    """The official ResNet-50 student (line 417 fixed) through the
    registered converter: its parameter count and deployed logits."""
    official = _filled(golden_r50['student_keys'], var_scale=0.01)
    model = deployed_student(50)
    assert sum(p.numel() for p in model.parameters()) == \
        golden_r50['num_params_student_deploy']
    logits = deployed_logits(model, convert_archnet_resnet(official),
                             golden_r50['x'])
    torch.testing.assert_close(logits, golden_r50['logits'], atol=1e-3,
                               rtol=0)


def test_r50_distillation_matches_official(golden_r50, tmp_path):
    """ArchNetResNetDistiller of ResNet-50 bottlenecks with the official
    weights: the 66 student and teacher outputs (the teacher's aliasing),
    the 66 period losses and the p = 65 gradients."""
    model = official_archnet(
        _filled(golden_r50['teacher_keys'], 'teacher.'),
        str(tmp_path / 'teacher.pth'), 50)
    official = _filled(golden_r50['student_keys'], var_scale=0.01)
    state = convert_archnet_resnet(official)
    # official key -> ours (the converter keeps the order)
    state_names = dict(zip([k for k in official if k in _kept(official)],
                           state))
    adapters = {r50_adapter_name(k): v for k, v in official.items()
                if r50_adapter_name(k) is not None}
    assert len(adapters) == 64 * 7  # 3 convolutions, 2 linear layers
    state.update(adapters)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(
        k.endswith('num_batches_tracked') or k.endswith('.period')
        for k in missing), missing
    model.eval()
    loss = model.distiller.losses['loss_archnet']
    assert loss.num_periods == 66
    loss.set_period(65)
    inputs = {}
    handle = loss.register_forward_pre_hook(
        lambda m, args, kwargs: inputs.update(kwargs), with_kwargs=True)
    try:
        value = model.loss(golden_r50['x'], samples(2))['loss_archnet']
        value.backward()
    finally:
        handle.remove()
    torch.testing.assert_close(
        value.item(), golden_r50['losses'][65], rtol=2e-5, atol=0)
    with torch.no_grad():
        for p in range(66):
            loss.set_period(p)
            torch.testing.assert_close(
                loss(**inputs).item(), golden_r50['losses'][p], rtol=2e-5,
                atol=0, msg=f'period {p}')
    for side in ('student', 'teacher'):
        for i, (t, want) in enumerate(
                zip(inputs[side], golden_r50[f'{side}_outs_checksums'])):
            torch.testing.assert_close(
                checksums(t), torch.tensor(want, dtype=torch.float64),
                rtol=2e-4, atol=1e-3, msg=f'{side} output {i}')
    for a, b in golden_r50['teacher_alias_pairs']:
        assert torch.equal(inputs['teacher'][a], inputs['teacher'][b])
    ours = {k: r50_adapter_name(k) or state_names[k] for k in
            golden_r50['grads_p65_stats']}
    params = dict(model.named_parameters())
    for official_key, name in ours.items():
        got = checksums(params[name].grad)
        want = torch.tensor(golden_r50['grads_p65_stats'][official_key],
                            dtype=torch.float64)
        # relative: the early gradients are ~1e-6 in absolute value
        torch.testing.assert_close(
            got[1:], want[1:], rtol=2e-3, atol=0, msg=official_key)
    for official_key, grad in golden_r50['grads_p65_small'].items():
        torch.testing.assert_close(
            params[ours[official_key]].grad, grad, rtol=2e-3,
            atol=grad.abs().max().item() * 1e-3)


def test_r50_teacher_initialisation_matches_official(golden_r50):
    """archnet_init_from_resnet of the ResNet-50 teacher initialises exactly
    the student tensors the official code copies, centred as officially."""
    teacher = _filled(golden_r50['teacher_keys'], 'teacher.')
    init = archnet_init_from_resnet(teacher)
    copied = convert_archnet_resnet(
        {k: torch.zeros(1) for k in golden_r50['init_copied']})
    assert set(init) - {k for k in init if 'num_batches' in k} == \
        set(copied)
    torch.testing.assert_close(
        init['backbone.stages.0.0.conv1.conv.weight'][:2],
        golden_r50['init_centred_example'])
    torch.testing.assert_close(
        init['backbone.stages.2.0.downsample.conv.weight'][:2],
        golden_r50['init_layer3_downsample'])


# --------------------------------------------------------------- head
def test_head_quantised_and_clipped():
    torch.manual_seed(0)
    head = QuantLinearClsHead(10, 8, w_bits=4, rowwise=False, logit_clip=2.)
    x = 10 * torch.randn(3, 8)
    out = head((x, ))
    want = F.linear(x, quantize_weight(head.fc.weight, 4), head.fc.bias)
    torch.testing.assert_close(out, want.clamp(-2, 2))
    free = QuantLinearClsHead(10, 8, logit_clip=None)
    assert free.fc.rowwise and free.fc.w_bits == 8
    torch.testing.assert_close(
        free((x, )),
        F.linear(x, quantize_weight_rowwise(free.fc.weight, 8), free.fc.bias))
    with pytest.raises(ValueError, match='logit_clip must be > 0'):
        QuantLinearClsHead(10, 8, logit_clip=0)
    # PyTorch's nn.Linear initialisation by default (not LinearClsHead's
    # normal(0.01)); an init_cfg reaches the quantised layer
    torch.manual_seed(0)
    default = QuantLinearClsHead(10, 64)
    default.init_weights()
    assert default.fc.weight.abs().max() > 0.05
    constant = QuantLinearClsHead(
        10, 64, init_cfg=dict(type='Constant', layer='Linear', val=0.5))
    constant.init_weights()
    assert constant.fc.weight.eq(0.5).all()


# ------------------------------------------------------------ adapters
def test_adapter_by_hand():
    torch.manual_seed(0)
    adapter = ArchNetAdapterConnector(48, squeeze_factor=24)
    assert adapter.gate[0].out_features == 2
    u, t = torch.randn(2, 48, 4, 4, requires_grad=True), torch.randn(
        2, 48, 4, 4, requires_grad=True)
    out = adapter([u, t])
    g = torch.sigmoid(adapter.gate[2](F.relu(adapter.gate[0](
        t.mean((2, 3))))))[:, :, None, None]
    want = adapter.conv3(adapter.conv2(adapter.conv1(g * u))) + u
    torch.testing.assert_close(out, want)
    out.sum().backward()
    assert u.grad is not None and t.grad is None  # nothing to the teacher
    # without the residual; at least one hidden unit
    plain = ArchNetAdapterConnector(8, squeeze_factor=24, residual=False)
    assert plain.gate[0].out_features == 1
    with torch.no_grad():
        for conv in (plain.conv1, plain.conv2, plain.conv3):
            conv.weight.zero_()
    ones = torch.ones(1, 8, 2, 2)
    assert plain([ones, ones]).eq(0).all()
    # a bottleneck's expanded map: 1x1 down to mid_channels, 3x3, 1x1 up;
    # the gate's hidden width from mid_channels (officially planes // 24)
    wide = ArchNetAdapterConnector(192, mid_channels=48, squeeze_factor=24)
    assert [tuple(c.weight.shape) for c in (wide.conv1, wide.conv2,
                                            wide.conv3)] == [
        (48, 192, 1, 1), (48, 48, 3, 3), (192, 48, 1, 1)]
    gate = [tuple(m.weight.shape) for m in wide.gate[::2]]
    assert gate == [(2, 192), (192, 2)]
    u, t = torch.randn(2, 192, 3, 3), torch.randn(2, 192, 3, 3)
    g = torch.sigmoid(wide.gate[2](F.relu(wide.gate[0](
        t.mean((2, 3))))))[:, :, None, None]
    torch.testing.assert_close(
        wide([u, t]), wide.conv3(wide.conv2(wide.conv1(g * u))) + u)


def test_adapter_errors():
    adapter = ArchNetAdapterConnector(8)
    with pytest.raises(ValueError, match='takes \\[student map, teacher'):
        adapter(torch.zeros(1, 8, 2, 2))
    with pytest.raises(ValueError, match='the teacher map has shape'):
        adapter([torch.zeros(1, 8, 2, 2), torch.zeros(1, 4, 2, 2)])
    with pytest.raises(ValueError, match='channels must be'):
        ArchNetAdapterConnector(0)
    with pytest.raises(ValueError, match='squeeze_factor must be'):
        ArchNetAdapterConnector(8, squeeze_factor=0)
    with pytest.raises(ValueError, match='mid_channels must be'):
        ArchNetAdapterConnector(8, mid_channels=0)


# ------------------------------------------------------------ distiller
def test_resnet_distiller_settings():
    """ArchNetResNetDistiller: per basic block its two units and output,
    per bottleneck three units and output, teacher norms aligned; adapters
    of each output's width; every argument reaches its module."""
    basic = ArchNetResNetDistiller.settings([1, 2], [8, 16])
    assert [basic['recorders'][f's{k}']['source'] for k in range(11)] == [
        'backbone.stem', 'backbone.stages.0.0.conv1',
        'backbone.stages.0.0.conv2', 'backbone.stages.0.0',
        'backbone.stages.1.0.conv1', 'backbone.stages.1.0.conv2',
        'backbone.stages.1.0', 'backbone.stages.1.1.conv1',
        'backbone.stages.1.1.conv2', 'backbone.stages.1.1', 'head']
    assert [basic['recorders'][f't{k}']['source'] for k in (0, 1, 2, 3, 10)
            ] == ['teacher.backbone.maxpool', 'teacher.backbone.layer1.0.bn1',
                  'teacher.backbone.layer1.0.bn2', 'teacher.backbone.layer1.0',
                  'teacher']
    assert basic['losses']['loss_archnet']['num_outputs'] == 11
    assert [basic['connectors'][f'a{k}']['channels'] for k in range(1, 10)
            ] == [8] * 3 + [16] * 6
    inputs = basic['loss_inputs']['loss_archnet']
    assert inputs['student'][0] == 's0' and inputs['student'][-1] == 's10'
    assert inputs['student'][4] == dict(recorder=['s4', 't4'],
                                        connector='a4')
    neck = ArchNetResNetDistiller.settings(
        [2], [8], block='bottleneck', squeeze_factor=4, decay=0.5,
        loss_weight=2.)
    assert [neck['recorders'][f't{k}']['source'] for k in range(1, 5)] == [
        f'teacher.backbone.layer1.0{u}' for u in ('.bn1', '.bn2', '.bn3', '')]
    assert neck['recorders']['s3']['source'] == 'backbone.stages.0.0.conv3'
    assert [(c['channels'], c['mid_channels'], c['squeeze_factor'])
            for c in neck['connectors'].values()] == [
                (8, 8, 4), (8, 8, 4), (32, 8, 4), (32, 8, 4)] * 2
    loss = neck['losses']['loss_archnet']
    assert (loss['num_outputs'], loss['decay'], loss['loss_weight']) == (
        10, 0.5, 2.)
    built = MODELS.build(dict(type='mmvitplug.ArchNetResNetDistiller',
                              depths=[2], widths=[8], block='bottleneck',
                              decay=0.5))
    assert built.losses['loss_archnet'].decay == 0.5
    assert built.connectors['a3'].conv1.weight.shape == (8, 32, 1, 1)


def test_resnet_distiller_errors():
    with pytest.raises(ValueError, match="block must be one of "
                       r"\['basic', 'bottleneck'\], got 'plain'"):
        ArchNetResNetDistiller([1], [8], block='plain')
    with pytest.raises(ValueError, match='one value per stage'):
        ArchNetResNetDistiller([1, 1], [8])
    with pytest.raises(ValueError, match='depths must be a non-empty list'):
        ArchNetResNetDistiller([], [])
    with pytest.raises(ValueError, match='widths must be a non-empty list'):
        ArchNetResNetDistiller([1], [0])
    with pytest.raises(ValueError, match='squeeze_factor must be'):
        ArchNetResNetDistiller([1], [8], squeeze_factor=0)


# ---------------------------------------------------------------- loss
def test_loss_by_hand():
    torch.manual_seed(0)
    student = [torch.randn(2, 3, 4, 4) for _ in range(3)] + [
        torch.randn(2, 5)]
    teacher = [torch.randn_like(s) for s in student]
    loss = ArchNetLoss(4, decay=0.5, loss_weight=2.)
    mse = [F.mse_loss(s, t) for s, t in zip(student[:3], teacher[:3])]
    cos = 1 - F.cosine_similarity(student[3], teacher[3]).mean()
    for period, want in ((0, mse[0]), (2, 0.25 * mse[0] + 0.5 * mse[1] +
                                       mse[2]),
                         (3, 0.125 * mse[0] + 0.25 * mse[1] + 0.5 * mse[2] +
                          cos)):
        loss.set_period(period)
        torch.testing.assert_close(loss(student, teacher), 2 * want)
    assert loss.weights(1) == [0.5, 1., 0., 0.]
    # the period is saved with the model
    assert int(loss.state_dict()['period']) == 3
    # the logits' term ignores their scale
    loss.set_period(3)
    scaled = student[:3] + [5 * student[3]]
    torch.testing.assert_close(loss(scaled, teacher), loss(student, teacher))


def test_loss_never_reaches_the_teacher():
    student = [torch.randn(2, 4, requires_grad=True)]
    teacher = [torch.randn(2, 4, requires_grad=True)]
    ArchNetLoss(1)(student, teacher).backward()
    assert student[0].grad is not None and teacher[0].grad is None


def test_loss_errors():
    loss = ArchNetLoss(2)
    with pytest.raises(ValueError, match='needs 2 student outputs'):
        loss([torch.zeros(1, 2)], [torch.zeros(1, 2)] * 2)
    with pytest.raises(ValueError, match='output 0 of the student has shape'):
        loss([torch.zeros(1, 2), torch.zeros(1, 2)],
             [torch.zeros(1, 3), torch.zeros(1, 2)])
    with pytest.raises(ValueError, match=r'period must be an int in \[0, 1\]'):
        loss.set_period(2)
    with pytest.raises(ValueError, match='num_outputs must be an int >= 1'):
        ArchNetLoss(0)
    with pytest.raises(ValueError, match=r'decay must be in \(0, 1\]'):
        ArchNetLoss(2, decay=0)


# ---------------------------------------------------------------- hook
class _Runner(SimpleNamespace):
    """What the hook reads of a runner."""


def make_runner(model, max_iters):
    params = [p for p in model.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    return _Runner(
        model=model,
        iter=0,
        max_iters=max_iters,
        optim_wrapper=SimpleNamespace(optimizer=optimizer),
        message_hub=MessageHub.get_instance('archnet_hook_test'))


class _Model(nn.Module):

    def __init__(self, outputs=3):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.distiller = nn.Module()
        self.distiller.losses = nn.ModuleDict(
            dict(loss_archnet=ArchNetLoss(outputs)))


def test_period_of():
    assert [period_of(i, [2, 1, 3]) for i in range(8)] == \
        [0, 0, 1, 2, 2, 2, 2, 2]


def test_hook_sets_periods_and_resets_the_optimizer():
    model = _Model()
    runner = make_runner(model, 6)
    hook = ArchNetPeriodHook([2, 1, 3])
    hook.before_train(runner)
    loss = model.distiller.losses['loss_archnet']
    seen, resets = [], []
    for it in range(6):
        runner.iter = it
        model.fc(torch.ones(1, 2)).sum().backward()
        runner.optim_wrapper.optimizer.step()  # state exists from now on
        hook.before_train_iter(runner, it)
        seen.append(int(loss.period))
        resets.append(not runner.optim_wrapper.optimizer.state)
    assert seen == [0, 0, 1, 2, 2, 2]
    assert resets == [False, False, True, True, False, False]
    assert runner.message_hub.get_scalar(
        'train/archnet_period').current() == 2
    # reset_optimizer=False keeps Adam's moments
    keep = ArchNetPeriodHook([2, 1, 3], reset_optimizer=False)
    runner.iter = 2
    keep.before_train_iter(runner, 2)
    assert runner.optim_wrapper.optimizer.state


def test_hook_errors():
    with pytest.raises(ValueError, match='periods must be a non-empty list'):
        ArchNetPeriodHook([2, 0])
    with pytest.raises(ValueError, match='has 2 periods but the ArchNetLoss '
                       'has 3'):
        ArchNetPeriodHook([2, 2]).before_train(make_runner(_Model(), 4))
    with pytest.raises(ValueError, match='add up to 6 iterations, the '
                       'training has 7'):
        ArchNetPeriodHook([2, 2, 2]).before_train(make_runner(_Model(), 7))
    model = _Model()
    model.distiller.losses = nn.ModuleDict()
    with pytest.raises(ValueError, match='exactly one Arch-Net loss'):
        ArchNetPeriodHook([1]).before_train(make_runner(model, 1))


def test_learning_rate_restarts_each_period():
    """PeriodicCosineRestartLR (the configs' schedule) is the official
    CosineAnnealingWarmRestarts(10, 2) re-created every period, and leaves
    the rate alone after its periods."""
    periods = [25, 10, 10, 37]
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=1e-3)
    scheduler = PeriodicCosineRestartLR(
        optimizer, periods, first_cycle=10, by_epoch=False)
    ours = []
    for _ in range(sum(periods) + 3):
        ours.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    official = []
    for length in periods:
        opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=10, T_mult=2)
        for _ in range(length):
            official.append(opt.param_groups[0]['lr'])
            opt.step()
            sched.step()
    torch.testing.assert_close(ours[:-3], official)
    assert ours[-3:] == [ours[-4]] * 3


def test_learning_rate_schedule_arguments():
    """begin, cycle_mult and eta_min against torch's scheduler."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = PeriodicCosineRestartLR(
        optimizer, [7, 20], first_cycle=3, cycle_mult=3, eta_min=0.1,
        begin=4, end=40)
    assert (scheduler.begin, scheduler.end) == (4, 40)
    ours = []
    for _ in range(36):
        ours.append(optimizer.param_groups[0]['lr'])
        scheduler.step()
    official = [0.5] * 4
    for length in (7, 20):
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.5)
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=3, T_mult=3, eta_min=0.1)
        for _ in range(length):
            official.append(opt.param_groups[0]['lr'])
            sched.step()
    # after the periods (until end) the rate stays
    official += [official[-1]] * 5
    torch.testing.assert_close(ours, official)
    for kwargs, match in ((dict(periods=[]), 'periods must be'),
                          (dict(periods=[3, 0]), 'periods must be'),
                          (dict(first_cycle=0), 'first_cycle must be'),
                          (dict(cycle_mult=1.5), 'cycle_mult must be'),
                          (dict(eta_min=-1.), 'eta_min must be')):
        args = dict(dict(periods=[5], first_cycle=2), **kwargs)
        with pytest.raises(ValueError, match=match):
            PeriodicCosineRestartLR(optimizer, **args)


# ----------------------------------------------------------- algorithm
def tiny_archnet(tmp_path, depth=18, **kwargs):
    """Arch-Net of a ResNet-18 of widths 8-64 (or a ResNet-50 of widths 8-64
    x 4 with convolutions of at most 64 inputs, ResNet-50's splits at 1/8
    width) from a random teacher."""
    widths = [8, 16, 32, 64]
    block = 'bottleneck' if depth == 50 else 'basic'
    channels = widths[-1] * (4 if depth == 50 else 1)
    teacher = dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=depth, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=channels))
    path = str(tmp_path / f'teacher{depth}.pth')
    if not osp.isfile(path):
        torch.manual_seed(1)
        built = MODELS.build(teacher)
        built.init_weights()
        torch.save({'state_dict': built.state_dict()}, path)
    depths = ResNet.arch_settings[depth][1]
    cfg = dict(
        type='mmvitplug.ArchNetClassifier',
        backbone=dict(type='mmvitplug.ArchNetResNet',
                      arch=dict(depths=depths, widths=widths, block=block),
                      max_conv_in=64 if depth == 50 else 512),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmvitplug.QuantLinearClsHead', num_classes=10,
                  in_channels=channels),
        teacher=teacher,
        teacher_ckpt=path,
        distiller=dict(type='mmvitplug.ArchNetResNetDistiller',
                       depths=depths, widths=widths, block=block))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_algorithm_initialises_the_student_from_the_teacher(tmp_path):
    model = tiny_archnet(tmp_path)
    torch.manual_seed(0)
    model.init_weights()
    teacher = model.teacher.backbone
    student = model.backbone
    assert torch.equal(student.stages[2][1].conv2.conv.weight,
                       teacher.layer3[1].conv2.weight)
    assert torch.equal(student.stages[3][0].conv1.bn.running_var,
                       teacher.layer4[0].bn1.running_var)
    assert torch.equal(student.stages[1][0].downsample.conv.weight[:, :, 1, 1],
                       teacher.layer2[0].downsample[0].weight[:, :, 0, 0])
    # what the teacher has no counterpart for keeps its own init
    fresh = tiny_archnet(tmp_path, init_from_teacher=False)
    torch.manual_seed(0)
    fresh.init_weights()
    assert torch.equal(fresh.backbone.stem[0].conv.weight,
                       student.stem[0].conv.weight)
    assert not torch.equal(fresh.backbone.stages[2][1].conv2.conv.weight,
                           student.stages[2][1].conv2.conv.weight)


def test_algorithm_trains_every_output_without_labels(tmp_path):
    torch.manual_seed(0)
    model = tiny_archnet(tmp_path)
    model.init_weights()
    loss = model.distiller.losses['loss_archnet']
    x = torch.randn(4, 3, 32, 32)
    values = []
    for labels in (0, 7):  # labels are never read
        model.zero_grad()
        out = model.loss(x, [DataSample().set_gt_label(labels)] * 4)
        values.append(out['loss_archnet'])
    torch.testing.assert_close(values[0], values[1])
    # period 3 trains the stem and block 1's first unit: no gradient to
    # the later blocks, to their adapters nor to the classifier
    loss.set_period(3)
    model.zero_grad()
    model.loss(x, [DataSample().set_gt_label(0)] * 4)[
        'loss_archnet'].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads['backbone.stem.0.conv.weight'].abs().sum() > 0
    assert grads['distiller.connectors.a3.conv1.weight'].abs().sum() > 0
    assert grads['backbone.stages.1.0.conv1.conv.weight'] is None
    assert grads['distiller.connectors.a4.conv1.weight'] is None
    assert grads['head.fc.weight'] is None
    assert not any(p.requires_grad for p in model.teacher.parameters())


def test_algorithm_with_bottlenecks(tmp_path):
    """A bottleneck student (split units at 1/8 of ResNet-50's widths):
    initialised from the teacher where the official code does, trained one
    output more per period."""
    torch.manual_seed(0)
    model = tiny_archnet(tmp_path, depth=50)
    model.init_weights()
    student, teacher = model.backbone, model.teacher.backbone
    assert torch.equal(student.stages[3][1].conv2.conv.weight,
                       teacher.layer4[1].conv2.weight)
    assert torch.equal(student.stages[1][0].conv3.conv.weight[:, :, 1, 1],
                       teacher.layer2[0].conv3.weight[:, :, 0, 0])
    # a split first unit keeps its own initialisation
    assert student.stages[2][1].conv1[0].bn.running_var.eq(1).all()
    loss = model.distiller.losses['loss_archnet']
    assert loss.num_periods == 66
    x = torch.randn(2, 3, 32, 32)
    for period, reached, untouched in (
            (6, 'backbone.stages.0.1.conv2.conv.weight',
             'backbone.stages.0.1.conv3.conv.weight'),
            (65, 'head.fc.weight', None)):
        loss.set_period(period)
        model.zero_grad()
        model.loss(x, samples(2))['loss_archnet'].backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        assert grads[reached].abs().sum() > 0
        if untouched is not None:
            assert grads[untouched] is None
    assert grads['distiller.connectors.a64.conv1.weight'].abs().sum() > 0


def test_algorithm_errors(tmp_path):
    with pytest.raises(ValueError, match='ArchNetClassifier distils a '
                       'teacher'):
        MODELS.build(
            dict(type='mmvitplug.ArchNetClassifier',
                 backbone=dict(type='mmvitplug.ArchNetResNet'),
                 head=dict(type='mmvitplug.QuantLinearClsHead',
                           num_classes=10, in_channels=512),
                 distiller=dict(
                     recorders=dict(s=dict(source='head')),
                     losses=dict(loss_archnet=dict(
                         type='mmvitplug.ArchNetLoss', num_outputs=1)),
                     loss_inputs=dict(
                         loss_archnet=dict(student=['s'], teacher=['s'])))))
    model = tiny_archnet(tmp_path)
    model.backbone = nn.Identity()
    with pytest.raises(ValueError, match='no teacher initialiser for a '
                       "Identity student .*'ArchNetResNet'"):
        model.init_weights()
