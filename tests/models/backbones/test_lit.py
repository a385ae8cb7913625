# Copyright (c) mmvitplug contributors.
"""LIT: golden parity with the official classification and detection
code, parameter counts, any input size, errors.

``tests/data/lit_golden.pt`` was produced once from the official code
(ziplab/LIT 742e961) in a scratch environment, its compiled DCNv1 replaced
by torchvision's ``deform_conv2d`` (equal to mmcv's,
``tests/layers/test_deform_conv.py``), with randomised norms, biases, BN
statistics, position embeddings / relative-position tables and non-zero
deformable offsets:

- ``ti``: a tiny LIT-Ti (``classification/code_for_lit_ti/lit.py``: 8 / 16
  / 24 / 32 channels, depths 1 / 1 / 2 / 1, made for 64x64) - two 64x64
  images, their logits, each stage's tokens; the official detection
  backbone (``detection/mmdet/models/backbones/lit_ti.py``, no class
  token) with the same weights on a 96x80 image: its four maps;
- ``s``: a tiny LIT-S (``classification/code_for_lit_s_m_b/models/lit.py``:
  4 / 8 / 16 / 32 channels, made for 64x64) - the same, and the official
  detection backbone (``lit.py``: tables made for 800x800 inputs, the
  classification tables resized bicubically on load as its
  ``mmcv_custom/checkpoint.py`` does, random ``norm1``-``norm3``) on a
  110x78 image (padded to 112x80);
- the parameter counts of lit_ti / lit_s / lit_m / lit_b.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmvitplug.converters import convert_lit, get_converter
from mmvitplug.models.backbones import LIT
from mmvitplug.models.backbones.lit import (relative_position_index,
                                            resize_table)
from mmvitplug.models.utils.pretrained import load_pretrained
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'lit_golden.pt')
ARCHS = {
    'ti':
    dict(embed_dims=[8, 16, 24, 32], depths=[1, 1, 2, 1],
         num_heads=[1, 2, 3, 4], mlp_ratios=[8, 8, 4, 4],
         has_msa=[0, 0, 1, 1], position='absolute', norm_eps=1e-6),
    's':
    dict(embed_dims=[4, 8, 16, 32], depths=[1, 1, 2, 1],
         num_heads=[1, 2, 4, 8], mlp_ratios=[4, 4, 4, 4],
         has_msa=[0, 0, 1, 1], position='relative'),
}
ALL = (0, 1, 2, 3)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def build_classifier(arch, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.LIT', arch=ARCHS[arch],
                          img_size=64, **backbone),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=10, in_channels=32)))


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


def layer_norm(x, norm):
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias,
                        norm.eps)


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('arch, missing', [
    ('ti', []),
    # the official classifier has the last output norm only
    ('s', [f'backbone.norm{i}.{p}' for i in (1, 2)
           for p in ('weight', 'bias')]),
])
def test_golden_parity_classifier(golden, arch, missing, fused_attn):
    model = build_classifier(arch, fused_attn=fused_attn).eval()
    converted = convert_lit({'model': golden[arch]['state_dict']})
    result = model.load_state_dict(converted, strict=False)
    assert sorted(result.missing_keys) == sorted(missing)
    assert result.unexpected_keys == []
    with torch.no_grad():
        logits = model(golden[arch]['x'], mode='tensor')
    assert (logits - golden[arch]['logits']).abs().max() <= 1e-4


@pytest.mark.parametrize('arch', ['ti', 's'])
def test_golden_parity_stages(golden, arch):
    """Every stage's tokens before the next merging, through the stage's
    output norm where it has one (LIT-Ti: the last stage only; LIT-S:
    stages 1-3, fresh LayerNorms as the official detection backbone adds
    them, and the final norm)."""
    state = backbone_state(convert_lit(golden[arch]['state_dict']))
    model = LIT(ARCHS[arch], img_size=64, out_type='featmap',
                out_indices=ALL).eval()
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        outs = model(golden[arch]['x'])
    for i, (out, ref) in enumerate(zip(outs, golden[arch]['stages'])):
        if arch == 'ti' and i == 3:
            ref = ref[:, 1:]  # the class token
        norm = getattr(model, f'norm{i}', None)
        expected = ref if norm is None else layer_norm(ref, norm)
        side = 16 // 2**i
        assert out.shape[-2:] == (side, side)
        out = out.flatten(2).transpose(1, 2)
        assert (out - expected).abs().max() <= 1e-4, i


def test_golden_parity_detection_ti(golden):
    """The official LIT-Ti detection backbone: no class token (its slot of
    the last position embedding dropped on load), position embeddings
    resized bilinearly to a 96x80 input; its maps are not normalised,
    ours pass the last one through the final norm."""
    gold = golden['ti']
    model = LIT(ARCHS['ti'], img_size=64, with_cls_token=False,
                out_type='featmap', out_indices=ALL).eval()
    report = load_pretrained(model, {'model': gold['state_dict']},
                             prefix='backbone.')
    assert report.converter == 'LIT'
    assert report.unexpected_keys == ['cls_token']  # reported, not lost
    assert report.missing_keys == []
    assert report.resized == [('pos_embed4', (1, 5, 32), (1, 4, 32))]
    with torch.no_grad():
        outs = model(gold['det_x'])
    for i, (out, ref) in enumerate(zip(outs, gold['det_outs'])):
        assert out.shape == ref.shape
        if i == 3:
            ref = layer_norm(ref.permute(0, 2, 3, 1),
                             model.norm3).permute(0, 3, 1, 2)
        assert (out - ref).abs().max() <= 1e-4, i


def test_golden_parity_detection_s(golden):
    """The official LIT-S detection backbone: tables made for 800x800
    (img_size=800), the 64x64 classification tables resized bicubically on
    load, then to each input's grid; a 110x78 input padded to 112x80."""
    gold = golden['s']
    model = LIT(ARCHS['s'], img_size=800, out_type='featmap',
                out_indices=ALL).eval()
    checkpoint = dict(gold['state_dict'], **gold['det_norms'])
    report = load_pretrained(model, checkpoint, prefix='backbone.')
    assert report.missing_keys == []
    assert sorted(report.resized) == [
        ('stages.2.1.attn.relative_position_bias_table', (49, 4), (9801, 4)),
        ('stages.2.2.attn.relative_position_bias_table', (49, 4), (9801, 4)),
        ('stages.3.1.attn.relative_position_bias_table', (9, 8), (2401, 8)),
    ]
    with torch.no_grad():
        outs = model(gold['det_x'])
    for i, (out, ref) in enumerate(zip(outs, gold['det_outs'])):
        assert out.shape == ref.shape
        assert (out - ref).abs().max() <= 1e-4, i


def test_fused_and_explicit_gradients_agree(golden):
    grads = []
    for fused in (True, False):
        model = LIT(ARCHS['s'], img_size=64, fused_attn=fused).train()
        model.load_state_dict(
            backbone_state(convert_lit(golden['s']['state_dict'])),
            strict=False)
        model(golden['s']['x'])[0].square().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        if name.startswith(('norm1.', 'norm2.')):  # stages not output
            assert grad is None and grads[1][name] is None
            continue
        scale = grad.abs().max().clamp(min=1.)
        assert (grad - grads[1][name]).abs().max() <= 1e-4 * scale, name


def test_relative_position_bias_of_other_grids():
    """At the table's own grid the bias is the table gathered by offset;
    on another grid, the table resized to (2H - 1, 2W - 1) first."""
    model = LIT(ARCHS['s'], img_size=64)
    attn = model.stages[2][1].attn
    table = attn.relative_position_bias_table  # 7x7 offsets, 4 heads
    bias = attn.bias((4, 4))
    assert bias.shape == (1, 4, 16, 16)
    # token 0 = (0, 0), token 5 = (1, 1): offset (-1, -1) -> row 2, col 2
    assert torch.equal(bias[0, :, 0, 5], table[2 * 7 + 2])
    assert torch.equal(bias[0, :, 5, 0], table[4 * 7 + 4])
    assert torch.equal(relative_position_index(4, 4).diagonal(),
                       torch.full((16, ), 3 * 7 + 3))
    resized = resize_table(table, (7, 7), (5, 9))
    other = attn.bias((3, 5))
    assert other.shape == (1, 4, 15, 15)
    assert torch.equal(other[0, :, 0, 0], resized[2 * 9 + 4])


def test_converter_is_registered_and_recognises_the_layouts(golden):
    converter = get_converter('LIT')
    assert converter.recognises(golden['ti']['state_dict'])
    assert converter.recognises(golden['s']['state_dict'])
    ti = convert_lit(golden['ti']['state_dict'])
    assert 'backbone.stages.1.0.dconv.conv_offset.weight' in ti
    assert 'backbone.stages.0.0.mlp.fc1.weight' in ti
    assert 'backbone.stages.2.2.attn.qkv.weight' in ti
    assert {'backbone.pos_embed4', 'backbone.cls_token', 'backbone.norm3.bias',
            'head.fc.weight'} <= set(ti)
    s = convert_lit(golden['s']['state_dict'])
    assert 'backbone.stages.3.0.norm_layer.running_var' in s
    assert 'backbone.stages.2.1.attn.relative_position_bias_table' in s
    # the grid-derived index buffers are dropped, nothing else
    assert not any('relative_position_index' in k for k in s)
    assert len(s) == len(golden['s']['state_dict']) - 3
    # LITv2 (a convolutional FFN) is not LIT-S
    litv2 = {'patch_embed.proj.weight': torch.ones(1),
             'layers.0.downsample.dconv.weight': torch.ones(1),
             'layers.0.blocks.0.mlp.dwconv.dwconv.weight': torch.ones(1)}
    assert not converter.recognises(litv2)
    with pytest.raises(KeyError, match=r"1 key\(s\) are not in the "
                       r"official LIT layouts: \['block1.0.attn.x'\]"):
        convert_lit({'block1.0.attn.x': torch.ones(1)})


@pytest.mark.parametrize('arch, official', [
    ('lit-ti', 'lit_ti'),
    ('lit-s', 'lit_s'),
    ('lit-m', 'lit_m'),
    ('lit-b', 'lit_b'),
])
def test_param_counts_equal_official(golden, arch, official):
    """Backbone + a 1000-class linear head; the official LIT-S/M/B
    classifiers have one final norm where the backbone has the detection
    backbone's norm1-3."""
    with torch.device('meta'):
        model = LIT(arch)
    dims = model.embed_dims
    head = dims[-1] * 1000 + 1000
    extra = 0 if arch == 'lit-ti' else 2 * (dims[1] + dims[2])
    total = sum(p.numel() for p in model.parameters()) + head - extra
    assert round(total / 1e6, 3) == golden['num_params'][official]


@pytest.mark.parametrize('arch', ['ti', 's'])
@pytest.mark.parametrize('size', [(64, 64), (97, 130), (32, 45)])
def test_any_input_size_gives_four_maps(arch, size):
    torch.manual_seed(0)
    model = LIT(ARCHS[arch], img_size=64, out_type='featmap',
                out_indices=ALL).eval()
    outs = model(torch.randn(1, 3, *size))
    h, w = -(-size[0] // 4), -(-size[1] // 4)  # padded to multiples of 4
    for i, out in enumerate(outs):
        assert out.shape == (1, ARCHS[arch]['embed_dims'][i], h, w)
        assert out.is_contiguous()
        h, w = h // 2, w // 2


def test_default_out_type_and_class_token():
    assert LIT('lit-s').out_type == 'avg_featmap'
    ti = LIT(ARCHS['ti'], img_size=64)
    assert ti.out_type == 'cls_token' and ti.cls_token.shape == (1, 1, 32)
    assert ti.pos_embed4.shape == (1, 1 + 4, 32)
    out = ti(torch.randn(2, 3, 64, 64))[0]
    assert out.shape == (2, 32)
    no_cls = LIT(ARCHS['ti'], img_size=64, with_cls_token=False)
    assert no_cls.out_type == 'avg_featmap' and no_cls.cls_token is None
    assert no_cls.pos_embed4.shape == (1, 4, 32)
    assert LIT('lit-s').pos_embed1 is None


def test_bad_input_and_arch():
    model = LIT(ARCHS['s'], img_size=64)
    with pytest.raises(ValueError, match='LIT needs images of at least '
                       '32x32'):
        model(torch.randn(1, 3, 28, 64))
    with pytest.raises(ValueError, match='arch has_msa has 3 entries but '
                       'depths has 4'):
        LIT(dict(ARCHS['s'], has_msa=[0, 1, 1]))
    with pytest.raises(ValueError, match=r'LIT has 4 stages: arch depths '
                       r'needs 4 entries, got \[1, 1, 2\]'):
        LIT(dict(ARCHS['s'], depths=[1, 1, 2]))
    with pytest.raises(ValueError, match=r"arch position must be one of "
                       r"\['absolute', 'relative'\], got 'learned'"):
        LIT(dict(ARCHS['s'], position='learned'))
    with pytest.raises(ValueError, match="got 'learned'"):  # out_type given
        LIT(dict(ARCHS['s'], position='learned'), out_type='featmap')
    with pytest.raises(ValueError, match="with_cls_token=True needs an "
                       "'absolute' arch"):
        LIT('lit-s', with_cls_token=True)
    with pytest.raises(ValueError, match="out_type='cls_token' needs a "
                       'class token'):
        LIT('lit-s', out_type='cls_token')
    with pytest.raises(ValueError, match="out_type='cls_token' needs "
                       'out_indices=-1'):
        LIT('lit-ti', out_type='cls_token', out_indices=ALL)
    with pytest.raises(ValueError, match='img_size must be at least 32'):
        LIT('lit-s', img_size=16)
    with pytest.raises(ValueError, match="Unknown arch 'lit-x'"):
        LIT('lit-x')


def test_blocks_without_attention_in_the_first_stages():
    model = LIT('lit-s')
    assert model.stages[0][0].attn is None
    assert model.stages[1][1].attn is None
    attn = model.stages[2][1].attn
    assert attn.relative_position_bias_table.shape == (27 * 27, 12)
    assert model.stages[3][1].attn.relative_position_bias_table.shape == (
        13 * 13, 24)
    ti = LIT('lit-ti')
    assert ti.stages[1][4].attn is None
    assert not hasattr(ti.stages[2][1].attn, 'relative_position_bias_table')
    assert ti.stages[2][1].norm1.eps == 1e-6
    assert ti.patch_embed.norm.eps == 1e-5  # official: nn.LayerNorm default
    assert ti.pos_embed1.shape == (1, 56 * 56, 64)


def test_qkv_bias_and_dropouts_reach_the_layers():
    model = LIT(ARCHS['s'], img_size=64, qkv_bias=False, drop_rate=0.1,
                attn_drop_rate=0.2)
    attn = model.stages[2][1].attn
    assert attn.qkv.bias is None
    assert attn.attn_drop.p == 0.2 and attn.proj_drop.p == 0.1
    assert model.stages[0][0].mlp.drop.p == 0.1
    assert model.pos_drop.p == 0.1
