# Copyright (c) mmvitplug contributors.
"""LITv2: golden parity with the official code, parameter counts, any
input size, errors.

``tests/data/litv2_golden.pt`` was produced once from the official code
(ziplab/LITv2 7501c86, ``classification/models/litv2.py``) in a scratch
environment, its compiled DCNv1 replaced by torchvision's
``deform_conv2d`` (equal to mmcv's, ``tests/layers/test_deform_conv.py``):
a tiny LITv2 (8 channels, depths 1 / 1 / 2 / 1, HiLo windows 0 / 0 / 2 /
1, alpha 0.9) with randomised norms, biases, BN statistics and non-zero
deformable offsets; two 64x64 images, their logits, each stage's tokens
before its downsampling, and the parameter counts of litv2_s / m / b.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmvitplug.converters import convert_litv2, get_converter
from mmvitplug.models.backbones import LITv2
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'litv2_golden.pt')
GOLDEN_ARCH = dict(embed_dims=8, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8],
                   window_sizes=[0, 0, 2, 1])
ALL = (0, 1, 2, 3)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def build_classifier(**backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.LITv2', arch=GOLDEN_ARCH,
                          **backbone),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64)))


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, fused_attn):
    model = build_classifier(fused_attn=fused_attn).eval()
    converted = convert_litv2({'model': golden['state_dict']})
    # the official classifier has the last output norm only
    missing = model.load_state_dict(converted, strict=False).missing_keys
    assert sorted(missing) == [
        f'backbone.norm{i}.{p}' for i in range(3)
        for p in ('bias', 'weight')]
    with torch.no_grad():
        logits = model(golden['x'], mode='tensor')
    assert (logits - golden['logits']).abs().max() <= 1e-4


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_stages(golden, fused_attn):
    """Every stage's tokens before its downsampling, through the stage's
    output norm (the last: the official final norm; the others: fresh
    LayerNorms, as the official detection backbone adds them)."""
    state = backbone_state(convert_litv2(golden['state_dict']))
    for out_type in ('raw', 'featmap'):
        model = LITv2(GOLDEN_ARCH, out_type=out_type, out_indices=ALL,
                      fused_attn=fused_attn).eval()
        model.load_state_dict(state, strict=False)
        with torch.no_grad():
            outs = model(golden['x'])
        for i, (out, ref) in enumerate(zip(outs, golden['stages'])):
            if out_type == 'featmap':
                side = 16 // 2**i
                assert out.shape[-2:] == (side, side)
                out = out.flatten(2).transpose(1, 2)
            norm = getattr(model, f'norm{i}')
            expected = F.layer_norm(ref, norm.normalized_shape, norm.weight,
                                    norm.bias, norm.eps)
            assert (out - expected).abs().max() <= 1e-4


def test_fused_and_explicit_gradients_agree(golden):
    grads = []
    for fused in (True, False):
        model = LITv2(GOLDEN_ARCH, fused_attn=fused).train()
        model.load_state_dict(
            backbone_state(convert_litv2(golden['state_dict'])),
            strict=False)
        model(golden['x'])[0].square().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    unused = {f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')}
    for name, grad in grads[0].items():
        if name in unused:  # the output norms of stages not output
            assert grad is None and grads[1][name] is None
            continue
        # gradients reach ~500 at the patch embedding: relative to the
        # tensor's largest entry
        scale = grad.abs().max().clamp(min=1.)
        assert (grad - grads[1][name]).abs().max() <= 1e-4 * scale, name


def test_converter_is_registered_and_recognises_the_layout(golden):
    assert get_converter('LITv2').recognises(golden['state_dict'])
    converted = convert_litv2(golden['state_dict'])
    assert 'backbone.stages.1.0.dconv.conv_offset.weight' in converted
    assert 'backbone.stages.0.0.mlp.dwconv.dwconv.weight' in converted
    assert 'backbone.stages.2.1.attn.h_qkv.weight' in converted
    assert 'backbone.norm3.weight' in converted
    assert 'head.fc.weight' in converted
    # the detection backbone's per-output norms
    det = convert_litv2({'norm1.weight': torch.ones(2),
                         'layers.0.blocks.0.norm2.weight': torch.ones(2)})
    assert set(det) == {'backbone.norm1.weight',
                        'backbone.stages.0.0.norm2.weight'}
    with pytest.raises(KeyError, match=r"1 key\(s\) are not in the "
                       r"official LITv2 layout: \['layers.0.blocks.0.x'\]"):
        convert_litv2({'layers.0.blocks.0.x': torch.ones(1)})


@pytest.mark.parametrize('arch, official', [
    ('litv2-s', 'litv2_s'),
    ('litv2-m', 'litv2_m'),
    ('litv2-b', 'litv2_b'),
])
def test_param_counts_equal_official(golden, arch, official):
    """Backbone + a 1000-class linear head; the official classifier has
    one final norm where the backbone has one per stage (the detection
    backbone's)."""
    with torch.device('meta'):
        model = LITv2(arch)
    dims = model.embed_dims
    head = dims[-1] * 1000 + 1000
    extra_norms = sum(2 * d for d in dims[:-1])
    assert sum(p.numel() for p in model.parameters()) + head - \
        extra_norms == golden['num_params'][official]


@pytest.mark.parametrize('size', [(64, 64), (97, 130), (32, 45)])
def test_any_input_size_gives_four_maps(size):
    torch.manual_seed(0)
    model = LITv2(GOLDEN_ARCH, out_type='featmap', out_indices=ALL).eval()
    outs = model(torch.randn(1, 3, *size))
    h, w = size[0] // 4, size[1] // 4
    for i, out in enumerate(outs):
        assert out.shape == (1, 8 * 2**i, h, w) and out.is_contiguous()
        h, w = h // 2, w // 2


def test_bad_input_and_arch():
    model = LITv2(GOLDEN_ARCH)
    with pytest.raises(ValueError, match='LITv2 needs images of at least '
                       '32x32'):
        model(torch.randn(1, 3, 28, 64))
    with pytest.raises(ValueError, match='arch window_sizes has 3 entries '
                       'but depths has 4'):
        LITv2(dict(GOLDEN_ARCH, window_sizes=[0, 2, 1]))
    with pytest.raises(ValueError, match=r'LITv2 has 4 stages: arch depths '
                       r'needs 4 entries, got \[1, 1, 2\]'):
        LITv2(dict(GOLDEN_ARCH, depths=[1, 1, 2], num_heads=[1, 2, 4],
                   window_sizes=[0, 0, 2]))
    with pytest.raises(ValueError, match="Unknown arch 'litv2-x'"):
        LITv2('litv2-x')


def test_blocks_without_attention_in_the_first_stages():
    model = LITv2(GOLDEN_ARCH)
    assert model.stages[0][0].attn is None
    assert model.stages[1][1].attn is None
    hilo = model.stages[2][1].attn
    assert (hilo.l_heads, hilo.h_heads, hilo.window_size) == (3, 1, 2)
    plain = model.stages[3][1].attn  # window 1: plain attention
    assert (plain.l_heads, plain.h_heads) == (8, 0)


def test_qkv_bias_and_dropouts_reach_the_attention():
    model = LITv2(GOLDEN_ARCH, qkv_bias=False, drop_rate=0.1,
                  attn_drop_rate=0.2)
    hilo = model.stages[2][1].attn
    assert hilo.l_q.bias is None and hilo.h_qkv.bias is None
    assert hilo.attn_drop == 0.2 and hilo.proj_drop.p == 0.1
    assert model.stages[0][0].mlp.drop.p == 0.1
