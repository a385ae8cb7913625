# Copyright (c) mmvitplug contributors.
"""What is PiT-specific (the contract is in test_contract_staged.py).

The reference is timm 1.0.31 ``pit_*`` (the official naver-ai/pit code no
longer runs on timm 1.0; timm's layout differs from the official one only
by ``pools.{s}`` -> ``transformers.{s + 1}.pool``).
"""
import re
from functools import partial

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.converters import convert_pit, recognising_converters
from mmvitplug.models.backbones.pit import ConvPooling, PiT
from mmvitplug.models.utils import load_pretrained
from _builders import TINY_ARCHS, build_tiny

ARCH = TINY_ARCHS['PiT']
tiny = partial(build_tiny, PiT)
timm = pytest.importorskip('timm')

ARCHS = [('pit-ti', 'pit_ti'), ('pit-xs', 'pit_xs'), ('pit-s', 'pit_s'),
         ('pit-b', 'pit_b')]


def timm_reference(name, **kwargs):
    """A timm PiT with random weights (biases and norms too)."""
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return ref


def to_official(state_dict):
    """timm -> official naver-ai/pit names (inverse of timm's filter)."""
    return {
        re.sub(r'^transformers\.(\d+)\.pool\.',
               lambda m: f'pools.{int(m[1]) - 1}.', k): v
        for k, v in state_dict.items()
    }


def backbone_keys(state):
    return {k[9:]: v for k, v in state.items() if k.startswith('backbone.')}


def build_classifier(arch, distilled=False, **backbone):
    from mmpretrain.registry import MODELS
    dims = PiT.arch_zoo[arch]['embed_dims'][-1]
    head = dict(type='mmvitplug.DeiTDistillHead') if distilled else dict(
        type='LinearClsHead')
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='mmvitplug.PiT', arch=arch, distilled=distilled,
                **backbone),
            neck=None,
            head=dict(head, num_classes=1000, in_channels=dims)))


# ------------------------------------------------------------- arch, counts
@pytest.mark.parametrize('arch, timm_name', ARCHS)
@pytest.mark.parametrize('distilled', [False, True])
def test_parameter_counts(arch, timm_name, distilled):
    """Backbone + ImageNet head(s) = timm's count, on the meta device."""
    name = f'{timm_name}_distilled_224' if distilled else f'{timm_name}_224'
    with torch.device('meta'):
        model = PiT(arch, distilled=distilled)
        ref = timm.create_model(name)
    dims = model.embed_dims[-1]
    heads = 2 if distilled else 1
    count = sum(p.numel() for p in model.parameters())
    assert count + heads * (dims * 1000 + 1000) == sum(
        p.numel() for p in ref.parameters())
    assert model.pos_embed.shape == ref.pos_embed.shape
    assert model.cls_token.shape == ref.cls_token.shape


def test_parameter_counts_paper():
    """The counts timm and the notes give (millions, with the head)."""
    millions = {'pit-ti': 4.847, 'pit-xs': 10.619, 'pit-s': 23.462,
                'pit-b': 73.765}
    for arch, expected in millions.items():
        with torch.device('meta'):
            model = PiT(arch)
        count = sum(p.numel() for p in model.parameters())
        count += model.embed_dims[-1] * 1001
        assert abs(count / 1e6 - expected) < 1e-3, arch


def test_arch_attributes():
    with torch.device('meta'):
        ti, b = PiT('pit-ti'), PiT('pit-b')
    assert ti.embed_dims == [64, 128, 256] and ti.num_layers == 12
    assert ti.patch_size == 8 and ti.patch_kernel == 16
    assert ti.grid_size == (27, 27) and ti.num_trunk_layers == 14
    assert b.patch_size == 7 and b.patch_kernel == 14
    assert b.grid_size == (31, 31) and b.num_trunk_layers == 15
    # stage 1: the pooling layer, then the blocks
    assert isinstance(ti.stages[1][0], ConvPooling)
    assert ti.stages[1][0].conv.groups == 64
    assert ti.stages[1][0].conv.out_channels == 128
    assert len(ti.stages[0]) == 2 and len(ti.stages[1]) == 7


@pytest.mark.parametrize('arch, match', [
    (dict(ARCH, embed_dims=(16, 24, 64)), 'multiple of 16'),
    (dict(ARCH, depths=(1, 2)), 'one entry per stage'),
])
def test_bad_arch(arch, match):
    with pytest.raises(ValueError, match=match):
        PiT(arch)


def test_bad_sizes():
    with pytest.raises(ValueError, match='img_size .* smaller than'):
        PiT(ARCH, img_size=4)
    model = tiny().eval()
    with pytest.raises(ValueError, match='at least 8x8 pixels.*got 7x32'):
        model(torch.randn(1, 3, 7, 32))
    # the smallest size: one patch, pooled to 1 x 1
    out = tiny(out_type='featmap', out_indices=(0, 1, 2)).eval()(
        torch.randn(1, 3, 8, 8))
    assert [o.shape[-2:] for o in out] == [(1, 1)] * 3


# ------------------------------------------------------------- timm parity
@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('distilled', [False, True])
def test_timm_parity_classifier(fused_attn, distilled):
    """The whole classifier (backbone + mmpretrain / DeiT distillation head)
    gives timm's logits, from timm's state dict (load_pretrained finds the
    converter)."""
    name = 'pit_ti_distilled_224' if distilled else 'pit_ti_224'
    ref = timm_reference(name)
    ours = build_classifier('pit-ti', distilled, fused_attn=fused_attn)
    report = load_pretrained(ours, {'model': ref.state_dict()}, logger=None)
    assert report.converted and report.complete
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = ref(x)
        logits = ours.eval()(x, mode='tensor')
        # the image matters (not only the class token)
        assert (expected[0] - expected[1]).abs().mean() > 1e-2
    assert (logits - expected).abs().max() <= 1e-4


def test_timm_parity_featmaps_other_size():
    """featmap / raw outputs are timm's forward_intermediates, at a size
    timm builds its position embedding for (ours resizes its own)."""
    ref = timm_reference('pit_xs_224', img_size=(96, 128))
    state = backbone_keys(convert_pit(ref.state_dict()))
    ours = PiT('pit-xs', img_size=(96, 128), out_type='featmap',
               out_indices=(0, 1, 2)).eval()
    report = ours.load_state_dict(state, strict=False)
    assert report.missing_keys == [] and report.unexpected_keys == [
        'norm.weight', 'norm.bias'
    ]
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        inter = ref.forward_intermediates(x, intermediates_only=True)
        outs = ours(x)
    assert [o.shape[-2:] for o in outs] == [(11, 15), (6, 8), (3, 4)]
    for out, expected in zip(outs, inter):
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    raw = PiT('pit-xs', img_size=(96, 128), out_type='raw').eval()
    raw.load_state_dict(state, strict=False)
    with torch.no_grad():
        tokens = raw(x)[0]
    assert tokens.shape == (2, 1 + 12, 384)
    torch.testing.assert_close(
        tokens[:, 1:].transpose(1, 2).reshape(2, 384, 3, 4), inter[2])


def test_pos_embed_resized_on_the_fly_and_on_load(tmp_path):
    """A 224 checkpoint in a 160 model (resized on load) gives what the 224
    model gives on 160 images (resized on the fly), bicubic."""
    ref = timm_reference('pit_ti_224')
    torch.save({'model': to_official(ref.state_dict())},
               tmp_path / 'pit_ti_730.pth')
    big = PiT('pit-ti', init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'pit_ti_730.pth')))
    small = PiT('pit-ti', img_size=160, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'pit_ti_730.pth')))
    big.init_weights()
    small.init_weights()
    assert small.pos_embed.shape == (1, 64, 19, 19)
    expected = F.interpolate(ref.pos_embed.data, size=(19, 19),
                             mode='bicubic', align_corners=False)
    torch.testing.assert_close(small.pos_embed.data, expected)
    torch.testing.assert_close(big.stages[2][0].fc.weight.data,
                               ref.transformers[2].pool.fc.weight.data)
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(big.eval()(x), small.eval()(x))
    bilinear = PiT('pit-ti', interpolate_mode='bilinear').eval()
    bilinear.load_state_dict(big.state_dict())
    with torch.no_grad():
        assert not torch.allclose(bilinear(x)[0], big(x)[0], atol=1e-4)
        y = torch.randn(1, 3, 224, 224)  # same grid: no resizing at all
        torch.testing.assert_close(bilinear(y), big(y))


# ------------------------------------------------------------- converter
@pytest.mark.parametrize('name', ['pit_s_224', 'pit_b_distilled_224'])
def test_convert_official_and_timm(name):
    with torch.device('meta'):
        meta = timm.create_model(name)
    torch.manual_seed(0)
    src = {k: torch.randn(v.shape) for k, v in meta.state_dict().items()}
    official = to_official(src)
    assert any(k.startswith('pools.1.') for k in official)
    out = convert_pit(src)
    assert convert_pit(official).keys() == out.keys()
    assert recognising_converters(src) == ['PiT']
    assert recognising_converters(official) == ['PiT']
    assert len(out) == len(src)  # every key consumed, none added
    distilled = 'distilled' in name
    if distilled:
        heads = {'head.head.weight', 'head.head.bias',
                 'head.head_dist.weight', 'head.head_dist.bias'}
    else:
        heads = {'head.fc.weight', 'head.fc.bias'}
    assert {k for k in out if not k.startswith('backbone.')} == heads
    with torch.device('meta'):
        model = PiT('pit-b' if name.startswith('pit_b') else 'pit-s',
                    distilled=distilled)
    assert set(backbone_keys(out)) == set(model.state_dict())
    assert out['backbone.stages.2.0.conv.weight'] is \
        src['transformers.2.pool.conv.weight']
    assert out['backbone.stages.1.3.mlp.fc1.bias'] is \
        src['transformers.1.blocks.2.mlp.fc1.bias']
    assert out['backbone.stages.0.1.attn.qkv.weight'] is \
        src['transformers.0.blocks.1.attn.qkv.weight']


def test_convert_unknown_keys_and_wrappers():
    with torch.device('meta'):
        meta = timm.create_model('pit_ti_224')
    src = {k: torch.zeros(1) for k in meta.state_dict()}
    wrapped = {'model': {'module.' + k: v for k, v in src.items()}}
    assert convert_pit(wrapped).keys() == convert_pit(src).keys()
    src['transformers.0.pool.conv.weight'] = torch.zeros(1)  # no stage -1
    src['dist_token'] = torch.zeros(1)
    with pytest.raises(KeyError, match='2 key.*transformers.0.pool.*dist'):
        convert_pit(src)


def test_other_family_checkpoint_is_not_converted():
    """A DeiT checkpoint is not PiT's layout: reported, nothing loads."""
    with torch.device('meta'):
        meta = timm.create_model('deit_tiny_patch16_224')
    deit = {k: torch.zeros(v.shape) for k, v in meta.state_dict().items()}
    assert 'PiT' not in recognising_converters(deit)
    with pytest.raises(ValueError, match='No tensor .* matches PiT'):
        load_pretrained(tiny(), deit, logger=None)


# ------------------------------------------------------------- arguments
def test_distilled_outputs_a_pair():
    plain, dist = tiny().eval(), tiny(distilled=True).eval()
    assert dist.cls_token.shape == (1, 2, 16)
    assert dist.stages[1][0].num_extra_tokens == 2
    x = torch.randn(2, 3, 32, 32)
    cls, token = dist(x)[0]
    assert cls.shape == token.shape == (2, 64)
    assert not torch.allclose(cls, token)
    assert plain(x)[0].shape == (2, 64)
    raw = tiny(distilled=True, out_type='raw', out_indices=0).eval()
    assert raw(x)[0].shape == (2, 2 + 49, 16)


def test_mlp_ratio():
    model = tiny(arch=dict(ARCH, mlp_ratio=2))
    assert model.stages[2][1].mlp.fc1.out_features == 128
    assert tiny().stages[2][1].mlp.fc1.out_features == 256  # default 4


def test_qkv_bias_and_norm_cfg():
    model = tiny(qkv_bias=False, norm_cfg=dict(type='LN', eps=1e-3))
    assert model.stages[0][0].attn.qkv.bias is None
    assert model.stages[1][1].attn.proj.bias is not None
    assert model.stages[2][1].norm1.eps == 1e-3 and model.norm.eps == 1e-3
    assert tiny().stages[0][0].attn.qkv.bias is not None
    assert isinstance(tiny(norm_cfg=dict(type='BN1d')).norm, nn.BatchNorm1d)


def test_dropout_rates_reach_layers():
    model = tiny(drop_rate=0.3, attn_drop_rate=0.2)
    assert model.pos_drop.p == 0.3
    block = model.stages[1][1]
    assert block.attn.attn_drop.p == 0.2 and block.attn.proj_drop.p == 0.3
    assert block.mlp.drop.p == 0.3
    x = torch.randn(2, 3, 32, 32)
    model.train()
    assert not torch.allclose(model(x)[0], model(x)[0])
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])


def test_default_init():
    """Official init: trunc-normal tokens and position embedding,
    LayerNorm ones / zeros, PyTorch's default elsewhere."""
    torch.manual_seed(0)
    model = PiT('pit-ti')
    model.init_weights()
    assert 0.015 < model.pos_embed.std() < 0.025
    assert 0.01 < model.cls_token.std() < 0.03
    assert torch.all(model.stages[0][0].norm1.weight == 1)
    assert torch.all(model.norm.bias == 0)
    # nn.Linear default: uniform in +-1/sqrt(fan_in), not std 0.02
    fc1 = model.stages[1][1].mlp.fc1.weight
    assert fc1.abs().max() <= 128**-0.5 and fc1.std() > 0.04


def test_frozen_pooling_with_its_stage():
    model = tiny(frozen_stages=1, out_type='featmap')
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1][0].parameters())
    model = tiny(frozen_stages=2)
    assert not any(p.requires_grad for p in model.stages[1][0].parameters())
    assert all(p.requires_grad for p in model.norm.parameters())
