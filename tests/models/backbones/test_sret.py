# Copyright (c) mmvitplug contributors.
"""SReT: golden parity with the official code, sliced attention at any
length, deterministic evaluation, the shared-block converter, parameter
counts, errors.

``tests/data/sret_golden.pt`` was produced once from the official code
(szq0214/SReT ``SReT.py``) in a scratch environment: a tiny SReT (8 / 16
/ 32 channels, 1 / 2 / 4 heads, official depths 4 / 2 / 4 = recursive
units 2 / 1 / 2, slices 4 / 2 / 1 then 2 / 1 / 1, made for 64x64) with
randomised coefficients, norms, biases, BN statistics and position
embedding, in eval mode right after ``torch.manual_seed(0)`` (the
official permutations come from the global generator); two 64x64 images,
their logits, each stage's output, and the parameter counts of SReT_T /
LT / S.
"""
import os.path as osp

import pytest
import torch

from mmvitplug.converters import convert_sret, get_converter
from mmvitplug.models.backbones import SReT
from mmvitplug.models.backbones.sret import SlicedAttention
from mmvitplug.models.utils.pretrained import load_pretrained
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'sret_golden.pt')
GOLDEN_ARCH = dict(embed_dims=[8, 16, 32], num_heads=[1, 2, 4],
                   depths=[2, 1, 2], groups1=[4, 2, 1], groups2=[2, 1, 1],
                   mlp_ratio=2.0, np_mlp_ratio=1.0)
ALL = (0, 1, 2)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


def golden_backbone(golden, **kwargs):
    model = SReT(GOLDEN_ARCH, img_size=64, **kwargs)
    state = backbone_state(convert_sret(golden['state_dict']))
    if model.norm is None:  # built for out_type 'pre_logits' only
        state = {k: v for k, v in state.items() if not k.startswith('norm')}
    model.load_state_dict(state)
    return model


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, fused_attn):
    """Eval draws the permutations as the official model does right after
    torch.manual_seed(slice_seed)."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.SReT', arch=GOLDEN_ARCH,
                          img_size=64, fused_attn=fused_attn),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=32))).eval()
    model.load_state_dict(convert_sret({'model': golden['state_dict']}))
    with torch.no_grad():
        logits = model(golden['x'], mode='tensor')
    assert (logits - golden['logits']).abs().max() <= 1e-4


def test_golden_parity_stages(golden):
    model = golden_backbone(golden, out_type='featmap',
                            out_indices=ALL).eval()
    with torch.no_grad():
        outs = model(golden['x'])
    for out, ref in zip(outs, golden['stages']):
        assert out.shape == ref.shape and out.is_contiguous()
        assert (out - ref).abs().max() <= 1e-4


def test_eval_is_deterministic_and_training_uses_the_global_generator(
        golden):
    model = golden_backbone(golden).eval()
    x = golden['x']
    with torch.no_grad():
        first, again = model(x)[0], model(x)[0]
        other = golden_backbone(golden, slice_seed=1).eval()(x)[0]
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)  # stage 0 slices permuted
    model.train()  # BN in training mode too: compare train with train
    outs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        outs.append(model(x)[0])
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(outs[0], outs[2])


def sliced_reference(attn, x, groups, order=None):
    """Attention within each contiguous slice of the (permuted) tokens,
    slice by slice (the last slice may be shorter)."""
    B, N, C = x.shape
    if order is not None:
        x = x[:, order]
    qkv = attn.qkv(x).reshape(B, N, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    size = -(-N // groups)
    out = torch.zeros(B, attn.num_heads, N, attn.head_dim)
    for start in range(0, N, size):
        s = slice(start, start + size)
        weights = (q[:, :, s] * attn.scale) @ k[:, :, s].transpose(-2, -1)
        out[:, :, s] = weights.softmax(-1) @ v[:, :, s]
    out = out.transpose(1, 2).reshape(B, N, C)
    if order is not None:
        out = out[:, torch.argsort(order)]
    return attn.proj(out)


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('length, groups', [(16, 4), (15, 4), (13, 2),
                                            (7, 1)])
@pytest.mark.parametrize('permute', [False, True])
def test_sliced_attention_at_any_length(length, groups, permute,
                                        fused_attn):
    """Lengths the groups do not divide: padded, padded keys masked =
    slices of ceil(N / groups) tokens, the last one shorter."""
    torch.manual_seed(0)
    attn = SlicedAttention(16, 2, True, 0., 0., fused_attn)
    x = torch.randn(2, length, 16)
    order = None
    if permute and groups > 1:
        order = torch.randperm(length,
                               generator=torch.Generator().manual_seed(3))
    out = attn(x, groups, permute,
               generator=torch.Generator().manual_seed(3))
    expected = sliced_reference(attn, x, groups, order)
    assert torch.allclose(out, expected, atol=1e-5)


def test_converter_ties_the_shared_blocks(golden):
    state = golden['state_dict']
    assert get_converter('SReT').recognises(state)
    converted = convert_sret(state)
    assert 'backbone.stages.0.1.block.attn.qkv.weight' in converted
    assert 'backbone.stages.0.1.projs.1.coefficient2.bias' in converted
    assert 'backbone.stages.1.0.conv.weight' in converted  # pools.0
    assert 'backbone.stages.2.2.block.coefficient4.bias' in converted
    assert 'head.fc.weight' in converted
    aliases = [k for k in state
               if k.startswith('transformers.') and
               int(k.split('.')[3]) % 4 == 2]
    assert aliases and len(converted) == len(state) - len(aliases)
    untied = dict(state)
    key = 'transformers.0.blocks.2.attn.qkv.weight'
    untied[key] = untied[key] + 1
    with pytest.raises(ValueError, match=f'convert_sret: {key} must repeat '
                       'transformers.0.blocks.0.attn.qkv.weight'):
        convert_sret(untied)
    with pytest.raises(KeyError, match=r"1 key\(s\) are not in the "
                       r"official SReT layout: \['transformers.0.blocks.1."
                       r"attn.qkv.weight'\]"):
        convert_sret({'transformers.0.blocks.1.attn.qkv.weight':
                      torch.ones(1)})


def test_position_embedding_resized_on_load(golden):
    model = SReT(GOLDEN_ARCH, img_size=96)
    report = load_pretrained(model, {'model': golden['state_dict']},
                             prefix='backbone.')
    assert report.resized == [('pos_embed', (1, 8, 8, 8), (1, 8, 12, 12))]
    assert report.missing_keys == [] and report.unexpected_keys == []


@pytest.mark.parametrize('arch, official', [
    ('sret-t', 'SReT_T'),
    ('sret-lt', 'SReT_LT'),
    ('sret-s', 'SReT_S'),
])
def test_param_counts_equal_official(golden, arch, official):
    """Backbone + a 1000-class linear head; each shared block counted
    once, as the official parameters() does."""
    with torch.device('meta'):
        model = SReT(arch)
    dims = model.embed_dims
    total = sum(p.numel() for p in model.parameters()) + (dims[-1] + 1) * 1000
    assert round(total / 1e6, 3) == golden['num_params'][official]
    # the models without slices differ in the attention only
    with torch.device('meta'):
        noslice = SReT(f'{arch}-noslice')
    assert sum(p.numel() for p in noslice.parameters()) == sum(
        p.numel() for p in model.parameters())
    assert noslice.stages[0][0].groups1 == 1


def test_drop_path_rates_follow_the_official_spread():
    """Unit u of a stage starting after k official layers (2 per unit):
    rate * (k + u) / total official layers."""
    model = SReT('sret-t', drop_path_rate=0.2)  # units 2 / 5 / 3
    rates = [[
        getattr(unit.block.drop_path, 'drop_prob', 0.)
        for unit in (stage[1:] if i else stage)
    ] for i, stage in enumerate(model.stages)]
    assert rates[0] == [0.0, pytest.approx(0.2 / 20)]
    assert rates[1] == [pytest.approx(0.2 * k / 20) for k in range(4, 9)]
    assert rates[2] == [pytest.approx(0.2 * k / 20) for k in range(14, 17)]


@pytest.mark.parametrize('size', [(64, 64), (97, 130), (32, 45)])
def test_any_input_size_gives_three_maps(size):
    torch.manual_seed(0)
    model = SReT(GOLDEN_ARCH, img_size=64, out_type='featmap',
                 out_indices=ALL).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    h, w = size
    for i, out in enumerate(outs):
        for _ in range(3 if i == 0 else 1):
            h, w = -(-h // 2), -(-w // 2)
        assert out.shape == (1, GOLDEN_ARCH['embed_dims'][i], h, w)
        assert torch.isfinite(out).all()


def test_bad_input_and_arch():
    model = SReT(GOLDEN_ARCH, img_size=64)
    with pytest.raises(ValueError, match='SReT needs images of at least '
                       '32x32'):
        model(torch.randn(1, 3, 28, 64))
    with pytest.raises(ValueError, match='arch groups2 has 2 entries but '
                       'depths has 3'):
        SReT(dict(GOLDEN_ARCH, groups2=[2, 1]))
    with pytest.raises(ValueError, match=r'dim \(8\) must be divisible by '
                       r'num_heads \(3\)'):
        SReT(dict(GOLDEN_ARCH, num_heads=[3, 2, 4]))
    with pytest.raises(ValueError, match="Unknown arch 'sret-x'"):
        SReT('sret-x')


def test_norm_only_for_pre_logits():
    assert SReT(GOLDEN_ARCH, out_type='featmap').norm is None
    model = SReT(GOLDEN_ARCH, img_size=64).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), model.also_output('avg_featmap') as means:
        pre_logits = model(x)[0]
    norm = model.norm
    expected = torch.nn.functional.layer_norm(
        means[0], norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    assert torch.allclose(pre_logits, expected, atol=1e-6)
    with pytest.raises(ValueError, match="out_type='pre_logits' needs "
                       'out_indices=-1'):
        SReT(GOLDEN_ARCH, out_indices=(0, 1, 2))


def test_arch_settings_reach_the_units():
    model = SReT('sret-s', drop_rate=0.1, attn_drop_rate=0.2)
    unit = model.stages[1][3]
    assert (unit.groups1, unit.groups2) == (4, 1)
    assert unit.block.attn.num_heads == 6
    assert unit.block.mlp.fc1.out_features == 252 * 3
    assert unit.projs[0].mlp.fc1.out_features == 252 * 2
    assert unit.block.attn.attn_drop.p == 0.2
    assert unit.block.attn.proj_drop.p == 0.1 and model.pos_drop.p == 0.1
    assert model.stages[1][0].conv.groups == 126
