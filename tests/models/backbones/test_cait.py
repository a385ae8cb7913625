# Copyright (c) mmvitplug contributors.
import re
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters.cait import convert_cait
from mmvitplug.layers import resize_pos_embed
from mmvitplug.layers.class_attention import (ClassAttention,
                                              ClassAttentionBlock)
from mmvitplug.layers.talking_heads import TalkingHeadsAttention
from mmvitplug.models.backbones.cait import CaiT
from _builders import TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, ...) is checked for every family in test_contract.py;
# this file tests what is CaiT-specific.
ARCH = TINY_ARCHS['CaiT']
tiny = partial(build_tiny, CaiT)


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


def _randomize(module):
    """Random values everywhere (biases and LayerScale included)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())


# ------------------------------------------------------------------ layers
def _fused_vs_explicit(module, x, atol=1e-10):
    """Outputs and all gradients equal (float64: no rounding noise)."""
    module.double()
    x = x.detach().double().requires_grad_()
    outs, grads = [], []
    for fused in (True, False):
        module.fused_attn = fused
        module.zero_grad()
        x.grad = None
        out = module(x)
        out.square().sum().backward()
        outs.append(out)
        grads.append((_grads(module), x.grad.clone()))
    torch.testing.assert_close(outs[0], outs[1], atol=atol, rtol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=atol,
                               rtol=1e-10)
    for name, grad in grads[0][0].items():
        torch.testing.assert_close(
            grad, grads[1][0][name], atol=atol, rtol=1e-10, msg=name)
    module.float()


@pytest.mark.parametrize('qkv_bias', [True, False])
def test_talking_heads_efficient_equals_explicit(qkv_bias):
    attn = TalkingHeadsAttention(32, num_heads=4, qkv_bias=qkv_bias)
    _randomize(attn)
    x = torch.randn(3, 7, 32, requires_grad=True)
    _fused_vs_explicit(attn, x)
    assert (attn.qkv.bias is None) != qkv_bias


def test_talking_heads_reference_formula():
    """Mixing of the logits and of the weights, written head by head."""
    attn = TalkingHeadsAttention(12, num_heads=3).eval()
    _randomize(attn)
    x = torch.randn(2, 5, 12)
    q, k, v = attn.qkv(x).reshape(2, 5, 3, 3, 4).permute(2, 0, 3, 1, 4)
    logits = q @ k.transpose(-2, -1) / 2.  # head_dim 4 -> scale 1/2
    wl, bl = attn.proj_l.weight, attn.proj_l.bias
    ww, bw = attn.proj_w.weight, attn.proj_w.bias
    mixed = torch.stack(
        [sum(wl[g, h] * logits[:, h] for h in range(3)) + bl[g]
         for g in range(3)], 1).softmax(-1)
    weights = torch.stack(
        [sum(ww[g, h] * mixed[:, h] for h in range(3)) + bw[g]
         for g in range(3)], 1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(2, 5, 12))
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)
    # the heads really talk: identity mixing gives a different result
    with torch.no_grad():
        attn.proj_l.weight.copy_(torch.eye(3))
    assert not torch.allclose(attn(x), expected, atol=1e-3)


def test_talking_heads_dropout_and_errors():
    attn = TalkingHeadsAttention(16, num_heads=2, attn_drop=0.5,
                                 proj_drop=0.25)
    assert attn.attn_drop.p == 0.5 and attn.proj_drop.p == 0.25
    x = torch.randn(2, 6, 16)
    for fused in (True, False):
        attn.fused_attn = fused
        attn.train()
        assert not torch.allclose(attn(x), attn(x))
        attn.eval()
        torch.testing.assert_close(attn(x), attn(x))
    with pytest.raises(ValueError, match=r'dim \(10\).*num_heads \(4\)'):
        TalkingHeadsAttention(10, num_heads=4)


@pytest.mark.parametrize('qkv_bias', [True, False])
def test_class_attention_fused_equals_explicit(qkv_bias):
    attn = ClassAttention(32, num_heads=4, qkv_bias=qkv_bias)
    _randomize(attn)
    x = torch.randn(3, 9, 32, requires_grad=True)
    _fused_vs_explicit(attn, x)
    assert attn(x).shape == (3, 1, 32)
    assert (attn.k.bias is None) != qkv_bias


def test_class_attention_only_class_token_queries():
    """Equal to full attention's class-token row, for any patch order."""
    torch.manual_seed(0)
    attn = ClassAttention(16, num_heads=2).eval()
    x = torch.randn(2, 6, 16)
    q = attn.q(x).reshape(2, 6, 2, 8).transpose(1, 2)
    k = attn.k(x).reshape(2, 6, 2, 8).transpose(1, 2)
    v = attn.v(x).reshape(2, 6, 2, 8).transpose(1, 2)
    full = ((q @ k.transpose(-2, -1)) * 8**-0.5).softmax(-1) @ v
    expected = attn.proj(full.transpose(1, 2).reshape(2, 6, 16))[:, :1]
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)
        perm = torch.cat([torch.zeros(1, dtype=torch.long),
                          torch.randperm(5) + 1])
        torch.testing.assert_close(attn(x[:, perm]), expected, atol=1e-5,
                                   rtol=1e-5)
    with pytest.raises(ValueError, match=r'dim \(10\).*num_heads \(4\)'):
        ClassAttention(10, num_heads=4)


def test_class_attention_block():
    block = ClassAttentionBlock(16, 2, mlp_ratio=2., init_values=0.3,
                                drop_path=0.2, drop=0.1, attn_drop=0.15)
    assert torch.all(block.gamma_1 == 0.3) and torch.all(block.gamma_2 == 0.3)
    assert block.mlp.fc1.out_features == 32
    assert block.drop_path.drop_prob == 0.2
    assert block.attn.attn_drop.p == 0.15 and block.attn.proj_drop.p == 0.1
    names = {n for n, _ in block.named_parameters()}
    assert {'norm1.weight', 'attn.q.weight', 'attn.k.weight', 'attn.v.bias',
            'attn.proj.weight', 'gamma_1', 'gamma_2', 'norm2.bias',
            'mlp.fc1.weight', 'mlp.fc2.bias'} <= names
    block.eval()
    _randomize(block)
    x, x_cls = torch.randn(2, 5, 16), torch.randn(2, 1, 16)
    u = torch.cat((x_cls, x), 1)
    ref = x_cls + block.gamma_1 * block.attn(block.norm1(u))
    ref = ref + block.gamma_2 * block.mlp(block.norm2(ref))
    torch.testing.assert_close(block(x, x_cls), ref)
    assert isinstance(ClassAttentionBlock(16, 2).drop_path, nn.Identity)
    block.attn.fused_attn = False
    torch.testing.assert_close(block(x, x_cls), ref, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert (model.embed_dims, model.num_layers, model.num_ca_layers) == (
        32, 3, 2)
    assert model.num_extra_tokens == 0 and model.patch_size == 8
    assert model.pos_embed.shape == (1, 16, 32)  # no class-token position
    names = {n for n, _ in model.named_parameters()}
    for key in ('patch_embed.proj.weight', 'cls_token', 'pos_embed',
                'blocks.2.norm1.weight', 'blocks.2.attn.qkv.bias',
                'blocks.2.attn.proj_l.weight', 'blocks.2.attn.proj_w.bias',
                'blocks.2.attn.proj.weight', 'blocks.2.ls1.gamma',
                'blocks.2.ls2.gamma', 'blocks.2.norm2.bias',
                'blocks.2.mlp.fc1.weight', 'blocks.2.mlp.fc2.bias',
                'blocks_token_only.1.norm1.weight',
                'blocks_token_only.1.attn.q.weight',
                'blocks_token_only.1.attn.k.bias',
                'blocks_token_only.1.attn.v.weight',
                'blocks_token_only.1.attn.proj.bias',
                'blocks_token_only.1.gamma_1',
                'blocks_token_only.1.gamma_2',
                'blocks_token_only.1.mlp.fc2.weight', 'norm.weight'):
        assert key in names, key
    assert torch.all(model.blocks[1].ls2.gamma == 0.5)
    assert torch.all(model.blocks_token_only[0].gamma_1 == 0.5)
    assert len(tiny(arch=dict(ARCH, num_ca_layers=1)).blocks_token_only) == 1
    assert isinstance(tiny(final_norm=False).norm, nn.Identity)
    assert tiny(qkv_bias=False).blocks[0].attn.qkv.bias is None
    assert tiny(qkv_bias=False).blocks_token_only[0].attn.q.bias is None
    with torch.device('meta'):
        assert CaiT('cait-xxs24-384').patch_embed.img_size == (384, 384)
        assert CaiT('cait-m48-448').patch_embed.img_size == (448, 448)
        assert CaiT('cait-xxs24', img_size=(224, 160)).pos_embed.shape[1] \
            == 140
    # dense outputs never use the class token: it is not built
    dense = tiny(out_type='featmap')
    assert dense.cls_token is None and len(dense.blocks_token_only) == 0


def test_arch_zoo_values():
    zoo = CaiT.arch_zoo
    expect = {  # name: (dims, depth, heads, LayerScale init)
        'xxs24': (192, 24, 4, 1e-5), 'xxs36': (192, 36, 4, 1e-5),
        'xs24': (288, 24, 6, 1e-5), 's24': (384, 24, 8, 1e-5),
        's36': (384, 36, 8, 1e-6), 'm36': (768, 36, 16, 1e-6),
        'm48': (768, 48, 16, 1e-6)}
    for name, (dims, depth, heads, eps) in expect.items():
        for suffix, size in (('', 224), ('-384', 384)):
            a = zoo[f'cait-{name}{suffix}']
            assert (a['embed_dims'], a['num_layers'], a['num_heads'],
                    a['init_values'], a['img_size']) == (dims, depth, heads,
                                                         eps, size)
            assert a['feedforward_channels'] == 4 * dims
    assert zoo['cait-m48-448']['img_size'] == 448


def test_class_attention_reads_the_last_block():
    cls_model = tiny().eval()
    _randomize(cls_model)
    # the last block's patch tokens, before the final norm
    patches = tiny(out_type='raw', final_norm=False).eval()
    patches.load_state_dict(cls_model.state_dict(), strict=False)
    x = torch.randn(2, 3, 32, 32)
    (last, ) = patches(x)
    (cls, ) = cls_model(x)
    ref = cls_model.cls_token.expand(2, -1, -1)
    for block in cls_model.blocks_token_only:
        ref = block(last, ref)  # both class-attention blocks read `last`
    torch.testing.assert_close(cls, cls_model.norm(ref)[:, 0])


def test_cls_token_only_for_last_index():
    with pytest.raises(ValueError, match=r"cls_token.*out_indices=-1.*\[1\]"):
        tiny(out_indices=1)
    with pytest.raises(ValueError, match='class-attention'):
        tiny(out_indices=(0, 2))
    assert tiny(out_indices=2).out_indices == (2, )


def test_dropout_rates_reach_layers():
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2)
    assert model.pos_drop.p == 0.1
    assert model.blocks[1].attn.attn_drop.p == 0.2
    assert model.blocks[1].attn.proj_drop.p == 0.1
    assert model.blocks[1].mlp.drop.p == 0.1
    # class-attention blocks: no dropout, as in official CaiT
    ca = model.blocks_token_only[0]
    assert ca.attn.attn_drop.p == 0 and ca.mlp.drop.p == 0


def test_default_init():
    model = tiny()
    qkv = model.blocks[0].attn.qkv
    assert 0.015 < qkv.weight.std().item() < 0.025
    assert torch.all(qkv.bias == 0)
    assert torch.all(model.blocks[0].attn.proj_l.bias == 0)
    assert 0.015 < model.pos_embed.std().item() < 0.025
    assert model.cls_token.abs().sum() > 0
    assert torch.all(model.norm.weight == 1)
    assert torch.all(model.norm.bias == 0)
    assert torch.all(model.blocks[2].ls1.gamma == 0.5)


def test_norm_cfg():
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3))
    assert model.blocks[0].norm1.eps == 1e-3 and model.norm.eps == 1e-3
    assert model.blocks_token_only[1].norm2.eps == 1e-3


def test_heads_must_divide_embed_dims():
    with pytest.raises(ValueError, match=r'dim \(32\).*num_heads \(5\)'):
        tiny(arch=dict(ARCH, num_heads=5))


# (arch, exact count with a 1000-class head = timm's model, paper Table 3
# millions). timm / official code give 270.9M for M36 at 224 (271.2M at 384,
# the official README's "271M"); the paper's table prints 270.1M.
PARAMS = [
    ('cait-xxs24', 'cait_xxs24_224', 224, 12.0),
    ('cait-xxs36', 'cait_xxs36_224', 224, 17.3),
    ('cait-xs24', 'cait_xs24_384', 224, 26.6),
    ('cait-s24', 'cait_s24_224', 224, 46.9),
    ('cait-s36', 'cait_s36_384', 224, 68.2),
    ('cait-m36', 'cait_m36_384', 224, 270.9),
    ('cait-m48', 'cait_m48_448', 224, 356.0),
    ('cait-s24-384', 'cait_s24_384', 384, 47.1),
    ('cait-m48-448', 'cait_m48_448', 448, 356.5),
]


@pytest.mark.parametrize('arch, timm_name, size, millions', PARAMS)
def test_parameter_counts(arch, timm_name, size, millions):
    timm = pytest.importorskip('timm')
    with torch.device('meta'):
        model = CaiT(arch)
        ref = timm.create_model(timm_name, img_size=size)
    assert model.patch_embed.img_size == (size, size)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == sum(p.numel() for p in ref.parameters())
    assert round(count / 1e6, 1) == millions
    assert model.blocks[0].ls1.gamma.shape == ref.blocks[0].gamma_1.shape


# --------------------------------------------------------------- timm parity
def build_classifier(arch='cait-xxs24', **backbone):
    from mmpretrain.registry import MODELS
    dims = CaiT.arch_zoo[arch]['embed_dims']
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.CaiT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=dims)))


def timm_reference(name, **kwargs):
    """timm model with random weights that all matter (LayerScale too)."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if 'gamma' in n:
                p.uniform_(0.05, 0.2)
            elif n.endswith('bias') or 'token' in n:
                p.normal_(0, 0.02)
    return ref


@pytest.mark.parametrize('fused_attn', [True, False])
def test_timm_parity_xxs24(fused_attn):
    ref = timm_reference('cait_xxs24_224')
    state = convert_cait({'model': ref.state_dict()})
    ours = build_classifier('cait-xxs24', fused_attn=fused_attn).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = ref(x)
        logits = ours(x, mode='tensor')
        # the blocks matter: the bare class token gives other logits
        bare = ref.head(ref.norm(ref.cls_token))[0]
        assert (bare - expected).abs().mean() > 1e-2
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_timm_parity_featmaps():
    """Our featmaps are timm's forward_intermediates (NCHW)."""
    ref = timm_reference('cait_xxs24_224', img_size=64)
    ours = CaiT('cait-xxs24', img_size=64, out_type='featmap',
                out_indices=(3, 11, 23))
    state = convert_cait(ref.state_dict())
    report = ours.load_state_dict(
        {k[9:]: v for k, v in state.items() if k.startswith('backbone.')},
        strict=False)
    assert report.missing_keys == []
    assert set(report.unexpected_keys) == {'cls_token'} | {
        k for k in ref.state_dict() if k.startswith('blocks_token_only')}
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        inter = ref.forward_intermediates(
            x, indices=[3, 11, 23], intermediates_only=True)
        outs = ours.eval()(x)
    torch.testing.assert_close(outs[0], inter[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs[1], inter[1], atol=1e-4, rtol=1e-4)
    normed = ref.norm(inter[2].flatten(2).transpose(1, 2))
    torch.testing.assert_close(
        outs[2].flatten(2).transpose(1, 2), normed, atol=1e-4, rtol=1e-4)


def test_pretrained_official_checkpoint(tmp_path):
    """Official layout file -> init_cfg Pretrained, pos_embed resized."""
    ref = timm_reference('cait_xxs24_224', img_size=64)  # 4x4 patches
    torch.save({'model': ref.state_dict(), 'epoch': 399},
               tmp_path / 'XXS24.pth')
    ours = build_classifier(
        'cait-xxs24',
        img_size=96,  # 6x6 patches
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(tmp_path / 'XXS24.pth'),
            prefix='backbone.'))
    ours.init_weights()
    ours.eval()
    pos = resize_pos_embed(ref.pos_embed.data, (4, 4), (6, 6),
                           num_extra_tokens=0)
    assert ours.backbone.pos_embed.shape == (1, 36, 192)
    torch.testing.assert_close(ours.backbone.pos_embed.data, pos)
    torch.testing.assert_close(ours.backbone.blocks[5].ls2.gamma.data,
                               ref.blocks[5].gamma_2.data)
    torch.testing.assert_close(
        ours.backbone.blocks_token_only[1].attn.k.weight.data,
        ref.blocks_token_only[1].attn.k.weight.data)

    timm = pytest.importorskip('timm')
    big = timm.create_model('cait_xxs24_224', img_size=96).eval()
    big.load_state_dict(dict(ref.state_dict(), pos_embed=pos))
    ours.head.fc.load_state_dict(ref.head.state_dict())
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), big(x), atol=1e-4, rtol=1e-4)
    # initialised once: a later init_weights leaves the weights alone
    before = ours.backbone.pos_embed.detach().clone()
    ours.backbone.init_weights()
    torch.testing.assert_close(ours.backbone.pos_embed.data, before)


# --------------------------------------------------------------- converter
def official_state(name='cait_xxs24_224'):
    timm = pytest.importorskip('timm')
    with torch.device('meta'):
        model = timm.create_model(name, pretrained=False)
    torch.manual_seed(0)
    return {k: torch.randn(v.shape) for k, v in model.state_dict().items()}


def test_convert_cait_key_sets():
    src = official_state()
    out = convert_cait(src)
    assert len(out) == len(src)  # every official key consumed, none added
    assert {k for k in out if not k.startswith('backbone.')} == {
        'head.fc.weight', 'head.fc.bias'}
    # 24 blocks x (8 layers x weight/bias + 2 gammas)
    assert sum(k.startswith('backbone.blocks.') for k in out) == 24 * 18
    assert sum(k.startswith('backbone.blocks_token_only.') for k in out) \
        == 2 * 18
    assert out['backbone.blocks.3.attn.proj_l.weight'] is \
        src['blocks.3.attn.proj_l.weight']
    assert out['head.fc.bias'] is src['head.bias']
    # the self-attention LayerScale: official gamma_{1,2}, ours ls{1,2}.gamma
    assert out['backbone.blocks.7.ls2.gamma'] is src['blocks.7.gamma_2']
    assert out['backbone.blocks_token_only.1.gamma_1'] is \
        src['blocks_token_only.1.gamma_1']
    back = {(k[9:] if k.startswith('backbone.') else 'head.' + k[8:]): v
            for k, v in out.items()}
    back = {re.sub(r'^(blocks\.\d+)\.ls([12])\.gamma$', r'\1.gamma_\2', k): v
            for k, v in back.items()}
    assert back == src  # round trip


def test_convert_cait_matches_module_keys():
    with torch.device('meta'):
        backbone = CaiT('cait-xxs24')
    out = convert_cait(official_state())
    assert {k[9:] for k in out if k.startswith('backbone.')} == set(
        backbone.state_dict())


def test_convert_cait_wrappers_and_unknown_keys():
    src = official_state()
    wrapped = {'model': {'module.' + k: v for k, v in src.items()},
               'optimizer': {}, 'epoch': 399}
    assert convert_cait(wrapped).keys() == convert_cait(src).keys()
    src['dist_token'] = torch.zeros(1, 1, 192)
    src['head_dist.weight'] = torch.zeros(1000, 192)
    with pytest.raises(KeyError, match="2 key.*dist_token.*head_dist"):
        convert_cait(src)
