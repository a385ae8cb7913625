# Copyright (c) mmvitplug contributors.
"""XCiT-specific tests (the backbone contract is in test_contract.py).

Reference: timm 1.0.31 ``timm.models.xcit`` (the official
facebookresearch/xcit model with timm's key names); parity checks build
timm models with random weights (LayerScale, temperatures, biases and
BatchNorm statistics randomised so that nothing hides) and load them
through :func:`mmvitplug.converters.xcit.convert_xcit`. The official
checkpoint layout (``pos_embeder.*``, fused class-attention ``qkv``) is
produced from timm's state dict by the inverse of timm's
``checkpoint_filter_fn``.

The non-linear Q/K/V embeddings (Ahn et al., arXiv 2111.10017) have no
public code: they are checked against the formulas written out here.
"""
from functools import partial

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.converters import get_converter
from mmvitplug.converters.xcit import LAYOUT, convert_xcit
from mmvitplug.models.backbones.xcit import (LPI, XCA, ConvPatchEmbed,
                                             FourierPositionEncoding, QKVEmbed,
                                             XCABlock, XCiT,
                                             XCiTClassAttentionBlock)
from _builders import TINY_ARCHS, build_tiny

ARCH = TINY_ARCHS['XCiT']
tiny = partial(build_tiny, XCiT)


def _randomize(module, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())
    return module


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


def _fused_vs_explicit(module, *args):
    """Outputs and all gradients equal (float64: no rounding noise)."""
    module.double()
    x = args[0].detach().double().requires_grad_()
    outs, grads = [], []
    for fused in (True, False):
        module.fused_attn = fused
        module.zero_grad()
        x.grad = None
        out = module(x, *args[1:])
        out.square().sum().backward()
        outs.append(out)
        grads.append((_grads(module), x.grad.clone()))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-10,
                               rtol=1e-10)
    for name, grad in grads[0][0].items():
        torch.testing.assert_close(
            grad, grads[1][0][name], atol=1e-10, rtol=1e-10, msg=name)


# ------------------------------------------------------ Q/K/V embeddings
def _reference_qkv(embed, x):
    """q, k, v (each (B, N, C)) written out per structure."""
    C = x.shape[-1]
    if embed.mode == 'linear':
        return embed.qkv(x).chunk(3, dim=-1)
    if embed.mode == 'separate_nonlinear':
        hs = F.relu(embed.fc1(x)).chunk(3, dim=-1)
        return [h @ embed.fc2_weight[i].T + embed.fc2_bias[i]
                for i, h in enumerate(hs)]
    if embed.mode == 'shared_nonlinear':
        return embed.fc2(F.relu(embed.fc1(x))).chunk(3, dim=-1)
    out = []
    for code in embed.code:  # [x, code] through the shared network
        u = torch.cat([x, code.expand(*x.shape[:2], -1)], dim=-1)
        out.append(embed.fc2(F.relu(embed.fc1(u))))
    assert out[0].shape[-1] == C
    return out


@pytest.mark.parametrize('mode, params', [
    ('linear', 3 * (16 * 16 + 16)),
    # three Linear(16, 8) + three Linear(8, 16)
    ('separate_nonlinear', 3 * (16 * 8 + 8) + 3 * (8 * 16 + 16)),
    # one shared Linear(16, 8), three Linear(8, 16)
    ('shared_nonlinear', (16 * 8 + 8) + 3 * (8 * 16 + 16)),
    # codes (3 x 3), shared Linear(16 + 3, 8) and Linear(8, 16)
    ('shared_coded', 9 + (19 * 8 + 8) + (8 * 16 + 16)),
])
def test_qkv_embed_structures(mode, params):
    embed = _randomize(QKVEmbed(16, mode, hidden_ratio=0.5))
    assert sum(p.numel() for p in embed.parameters()) == params
    x = torch.randn(2, 5, 16)
    out, stacked = embed(x)
    q, k, v = out if stacked else out.unbind(2)
    for got, ref in zip((q, k, v), _reference_qkv(embed, x)):
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    # q, k and v differ (separate layers, or different codes)
    assert not torch.allclose(q, k, atol=1e-3)
    assert not torch.allclose(k, v, atol=1e-3)


def test_qkv_embed_init_and_options():
    coded = QKVEmbed(12, 'shared_coded', code_dims=5)
    torch.testing.assert_close(coded.code.data, torch.eye(3, 5))
    assert coded.fc1.in_features == 17
    assert torch.all(coded.fc2.bias == 0) and \
        0.01 < coded.fc1.weight.std() < 0.03
    sep = QKVEmbed(12, 'separate_nonlinear', bias=False, hidden_ratio=2.)
    assert sep.fc2_bias is None and sep.fc1.out_features == 3 * 24
    assert 0.01 < sep.fc2_weight.std() < 0.03
    assert QKVEmbed(12, 'shared_nonlinear', bias=False).fc2.bias is None
    assert QKVEmbed(12, 'linear', bias=False).qkv.bias is None
    with pytest.raises(ValueError, match="Unknown qkv_embed 'mlp'.*linear"):
        QKVEmbed(12, 'mlp')
    with pytest.raises(ValueError, match='qkv_hidden_ratio 0.01 gives 0'):
        QKVEmbed(12, 'shared_nonlinear', hidden_ratio=0.01)
    with pytest.raises(ValueError, match='qkv_code_dims must be >= 1'):
        QKVEmbed(12, 'shared_coded', code_dims=0)


# --------------------------------------------------------------------- XCA
def _reference_xca(attn, x):
    """The paper's formula, head by head."""
    B, N, C = x.shape
    H = attn.num_heads
    if isinstance(attn.qkv, nn.Linear):
        q, k, v = attn.qkv(x).chunk(3, dim=-1)
    else:
        q, k, v = _reference_qkv(attn.qkv, x)
    outs = []
    for h in range(H):
        sl = slice(h * C // H, (h + 1) * C // H)
        qh = F.normalize(q[..., sl], dim=1)  # over the tokens
        kh = F.normalize(k[..., sl], dim=1)
        a = (qh.transpose(1, 2) @ kh * attn.head_temperature[h]).softmax(-1)
        outs.append(v[..., sl] @ a.transpose(1, 2))
    return attn.proj(torch.cat(outs, dim=-1))


@pytest.mark.parametrize('qkv_embed', ['linear', 'separate_nonlinear',
                                       'shared_nonlinear', 'shared_coded'])
def test_xca_formula_and_paths(qkv_embed):
    attn = _randomize(XCA(16, 4, qkv_embed=qkv_embed)).eval()
    x = torch.randn(2, 7, 16)
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x), _reference_xca(attn, x),
                                   atol=1e-5, rtol=1e-5)
    _fused_vs_explicit(attn, x)
    # LayerScale folded into the projection
    attn.float()
    scale = torch.randn(16)
    torch.testing.assert_close(attn(x, scale), attn(x) * scale, atol=1e-6,
                               rtol=1e-5)


def test_xca_attends_across_channels():
    """Permuting the tokens permutes the output (no token mixing), and the
    attention is (heads, d, d) at any number of tokens."""
    attn = _randomize(XCA(16, 2, fused_attn=False)).eval()
    maps = []
    attn_softmax = torch.Tensor.softmax

    def record(t, *args, **kwargs):
        out = attn_softmax(t, *args, **kwargs)
        maps.append(out.shape)
        return out

    x = torch.randn(1, 9, 16)
    perm = torch.randperm(9)
    torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm],
                               atol=1e-5, rtol=1e-5)
    torch.Tensor.softmax = record
    try:
        attn(torch.randn(1, 9, 16))
        attn(torch.randn(1, 400, 16))
    finally:
        torch.Tensor.softmax = attn_softmax
    assert maps == [(1, 2, 8, 8)] * 2
    with pytest.raises(ValueError, match=r'dim \(10\).*num_heads \(4\)'):
        XCA(10, 4)
    with pytest.raises(ValueError, match="Unknown qkv_embed 'x'"):
        XCA(16, 4, qkv_embed='x')


def test_xca_dropout():
    attn = XCA(16, 4, attn_drop=0.5, proj_drop=0.2)
    x = torch.randn(2, 5, 16)
    for fused in (True, False):
        attn.fused_attn = fused
        attn.train()
        assert not torch.allclose(attn(x), attn(x))
        attn.eval()
        torch.testing.assert_close(attn(x), attn(x))


# ---------------------------------------------------- LPI, blocks, embeds
def test_lpi_and_block_formula():
    timm_xcit = pytest.importorskip('timm.models.xcit')
    lpi = _randomize(LPI(16)).eval()
    ref = timm_xcit.LPI(16).eval()
    ref.load_state_dict(lpi.state_dict())
    x = torch.randn(2, 12, 16)
    torch.testing.assert_close(lpi(x, (3, 4)), ref(x, 3, 4))
    scale = torch.randn(16)
    torch.testing.assert_close(lpi(x, (3, 4), scale),
                               ref(x, 3, 4) * scale, atol=1e-6, rtol=1e-5)
    lpi5 = _randomize(LPI(16, kernel_size=5)).eval()
    ref5 = timm_xcit.LPI(16, kernel_size=5).eval()
    ref5.load_state_dict(lpi5.state_dict())
    torch.testing.assert_close(lpi5(x, (3, 4)), ref5(x, 3, 4))
    assert lpi5.conv2.kernel_size == (5, 5)

    block = _randomize(XCABlock(16, 4, mlp_ratio=2.)).eval()
    x = torch.randn(2, 12, 16)
    ref = x + block.gamma1 * block.attn(block.norm1(x))
    ref = ref + block.gamma3 * block.local_mp(block.norm3(ref), (3, 4))
    ref = ref + block.gamma2 * block.mlp(block.norm2(ref))
    out = block(x, (3, 4))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # NCHW maps in, NCHW maps out
    fmap = x.transpose(1, 2).reshape(2, 16, 3, 4)
    torch.testing.assert_close(
        block(fmap), out.transpose(1, 2).reshape(2, 16, 3, 4))
    with pytest.raises(ValueError, match='needs the grid hw'):
        block(x)
    assert block.mlp.fc1.out_features == 32


def test_class_attention_block_updates_patches():
    """The official layer: patches get ``gamma1 * norm1(x)`` and, with
    tokens_norm, norm2; the class token class attention and the MLP."""
    for tokens_norm in (True, False):
        block = _randomize(XCiTClassAttentionBlock(
            16, 4, tokens_norm=tokens_norm)).eval()
        x = torch.randn(2, 7, 16)
        u = block.norm1(x)
        cls = x[:, :1] + block.gamma1 * block.attn(u)
        patches = x[:, 1:] + block.gamma1 * u[:, 1:]
        cls = block.norm2(cls)
        if tokens_norm:
            patches = block.norm2(patches)
        cls = cls + block.gamma2 * block.mlp(cls)
        torch.testing.assert_close(
            block(x), torch.cat([cls, patches], 1), atol=1e-5, rtol=1e-5)
        block.attn.fused_attn = False
        torch.testing.assert_close(
            block(x), torch.cat([cls, patches], 1), atol=1e-5, rtol=1e-5)


def test_fourier_encoding_equals_timm():
    timm_xcit = pytest.importorskip('timm.models.xcit')
    ours = _randomize(FourierPositionEncoding(24))
    ref = timm_xcit.PositionalEncodingFourier(dim=24)
    ref.load_state_dict(ours.state_dict())
    expected = ref(2, 3, 5).flatten(2).transpose(1, 2)  # (B, N, C)
    torch.testing.assert_close(ours((3, 5)).expand(2, -1, -1), expected,
                               atol=1e-5, rtol=1e-5)
    assert ours((3, 5)).shape == (1, 15, 24)


def test_conv_patch_embed():
    embed = ConvPatchEmbed(8, 3, 32)
    convs = [m for m in embed.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32]
    assert all(c.stride == (2, 2) and c.bias is None for c in convs)
    assert isinstance(embed.proj[0][1], nn.BatchNorm2d)
    assert isinstance(embed.proj[1], nn.GELU)
    assert embed(torch.randn(1, 3, 16, 24)).shape == (1, 32, 2, 3)
    with pytest.raises(ValueError, match='power of two'):
        ConvPatchEmbed(12, 3, 32)
    with pytest.raises(ValueError, match=r'embed_dims \(20\).*\(8\)'):
        ConvPatchEmbed(16, 3, 20)
    gn = ConvPatchEmbed(4, 3, 32, norm_cfg=dict(type='GN', num_groups=4))
    assert isinstance(gn.proj[0][1], nn.GroupNorm)


# ---------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert (model.embed_dims, model.num_layers, model.num_heads,
            model.patch_size, model.num_ca_layers) == (32, 3, 4, 4, 2)
    names = {n for n, _ in model.named_parameters()}
    for key in ('cls_token', 'patch_embed.proj.0.0.weight',
                'patch_embed.proj.2.1.weight',
                'pos_embed.token_projection.weight',
                'blocks.2.attn.qkv.weight', 'blocks.2.attn.head_temperature',
                'blocks.2.attn.proj.bias', 'blocks.2.local_mp.conv1.weight',
                'blocks.2.local_mp.bn.weight', 'blocks.2.local_mp.conv2.bias',
                'blocks.2.norm3.weight', 'blocks.2.gamma1', 'blocks.2.gamma3',
                'blocks.2.gamma2', 'blocks.2.mlp.fc2.weight',
                'cls_attn_blocks.1.attn.q.weight',
                'cls_attn_blocks.1.attn.v.bias', 'cls_attn_blocks.1.gamma2',
                'norm.weight'):
        assert key in names, key
    assert torch.all(model.blocks[1].gamma3 == 0.5)
    assert torch.all(model.cls_attn_blocks[0].gamma1 == 0.5)
    assert model.blocks[0].mlp.fc1.out_features == 64  # mlp_ratio 2
    assert not model.cls_attn_blocks[0].tokens_norm
    assert model.blocks[0].attn.head_temperature.shape == (4, )
    model = tiny(arch=dict(ARCH, num_ca_layers=1, tokens_norm=True))
    assert len(model.cls_attn_blocks) == 1
    assert model.cls_attn_blocks[0].tokens_norm
    assert tiny(qkv_bias=False).blocks[0].attn.qkv.bias is None
    assert tiny(qkv_bias=False).cls_attn_blocks[0].attn.q.bias is None
    assert tiny(use_pos_embed=False).pos_embed is None
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3),
                 conv_norm_cfg=dict(type='GN', num_groups=2))
    assert model.blocks[0].norm3.eps == 1e-3 and model.norm.eps == 1e-3
    assert model.cls_attn_blocks[1].norm2.eps == 1e-3
    assert isinstance(model.blocks[0].local_mp.bn, nn.GroupNorm)
    assert isinstance(model.patch_embed.proj[0][1], nn.GroupNorm)
    dense = tiny(out_type='featmap')
    assert dense.cls_token is None and len(dense.cls_attn_blocks) == 0
    assert dense.norm is None


def test_arch_zoo_values():
    expect = {  # name: (dims, heads)
        'nano': (128, 4), 'tiny': (192, 4), 'small': (384, 8),
        'medium': (512, 8), 'large': (768, 16)}
    zoo = XCiT.arch_zoo
    assert len(zoo) == 14 + 9
    modes = {'sne': 'separate_nonlinear', 'psne': 'shared_nonlinear',
             'fsne': 'shared_coded'}
    for key, a in zoo.items():
        _, name, depth, patch, *variant = key.split('-')
        if variant:
            assert a == dict(zoo[key.rsplit('-', 1)[0]],
                             qkv_embed=modes[variant[0]])
            assert depth == '12' and patch == 'p16'
            continue
        assert (a['embed_dims'], a['num_heads']) == expect[name]
        assert a['num_layers'] == int(depth)
        assert a['patch_size'] == int(patch[1:])
        assert a['init_values'] == (1. if depth == '12' else 1e-5)
        assert a['tokens_norm'] == (name != 'nano')


def test_use_pos_embed_and_drop_rates():
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2)
    assert model.pos_drop.p == 0.1
    blk, ca = model.blocks[1], model.cls_attn_blocks[0]
    assert blk.attn.attn_drop.p == 0.2 and blk.attn.proj_drop.p == 0.1
    assert blk.mlp.drop.p == 0.1
    assert ca.attn.attn_drop.p == 0.2 and ca.mlp.drop.p == 0.1
    x = torch.randn(2, 3, 16, 16)
    with_pe = tiny(out_type='raw').eval()
    without = tiny(out_type='raw', use_pos_embed=False).eval()
    without.load_state_dict(with_pe.state_dict(), strict=False)
    assert not torch.allclose(with_pe(x)[0], without(x)[0])


def test_qkv_embed_variants_in_backbone():
    for mode in ('separate_nonlinear', 'shared_nonlinear', 'shared_coded'):
        model = tiny(qkv_embed=mode, qkv_hidden_ratio=0.5, qkv_code_dims=4)
        embed = model.blocks[2].attn.qkv
        assert isinstance(embed, QKVEmbed) and embed.mode == mode
        assert embed.fc1.out_features == (48 if mode ==
                                          'separate_nonlinear' else 16)
        if mode == 'shared_coded':
            assert embed.code.shape == (3, 4)
        # the class-attention layers keep their linear q, k, v
        assert isinstance(model.cls_attn_blocks[0].attn.q, nn.Linear)
    with pytest.raises(ValueError, match="Unknown qkv_embed 'mlp'"):
        tiny(qkv_embed='mlp')
    # the arch's qkv_embed, unless the argument overrides it
    arch = dict(ARCH, qkv_embed='shared_nonlinear')
    assert tiny(arch=arch).blocks[0].attn.qkv.mode == 'shared_nonlinear'
    assert isinstance(tiny(arch=arch, qkv_embed='linear').blocks[0].attn.qkv,
                      nn.Linear)
    with torch.device('meta'):
        assert XCiT('xcit-nano-12-p16-fsne').qkv_embed == 'shared_coded'


def test_qkv_embed_parameter_counts_n12():
    """XCiT-N12 with each Q/K/V embedding (hidden width = dims): the
    linear one is timm's 3.05M; the others change 12 x 384 x 128-sized
    layers (numbers reported in the README; the paper's exact widths are
    not known to us)."""
    counts = {}
    for mode in ('linear', 'separate_nonlinear', 'shared_nonlinear',
                 'shared_coded'):
        with torch.device('meta'):
            model = XCiT('xcit-nano-12-p16', qkv_embed=mode)
        counts[mode] = sum(p.numel() for p in model.parameters()) + \
            128 * 1000 + 1000
    per_layer_linear = 128 * 384 + 384
    assert counts['linear'] == 3053224
    assert counts['separate_nonlinear'] - counts['linear'] == 12 * (
        3 * 2 * (128 * 128 + 128) - per_layer_linear)
    assert counts['shared_nonlinear'] - counts['linear'] == 12 * (
        128 * 128 + 128)
    assert counts['shared_coded'] - counts['linear'] == 12 * (
        9 + 131 * 128 + 128 + 128 * 128 + 128 - per_layer_linear)


# (our arch, timm name): counts with a 1000-class head equal timm's
PARAMS = [(f'xcit-{n}-{d}-p{p}', f'xcit_{n}_{d}_p{p}_224')
          for n, d in (('nano', 12), ('tiny', 12), ('small', 12),
                       ('tiny', 24), ('small', 24), ('medium', 24),
                       ('large', 24)) for p in (16, 8)]


@pytest.mark.parametrize('arch, timm_name', PARAMS)
def test_parameter_counts(arch, timm_name):
    timm = pytest.importorskip('timm')
    with torch.device('meta'):
        model = XCiT(arch)
        ref = timm.create_model(timm_name)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000
    assert count == sum(p.numel() for p in ref.parameters())


# --------------------------------------------------------------- timm parity
def timm_reference(name, **kwargs):
    """timm model with random weights that all matter."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if p.ndim > 1 and 'token' not in n:  # unit-gain weights
                p.normal_(0, p[0].numel()**-0.5)
            elif 'gamma' in n:
                p.uniform_(0.2, 0.6)
            elif 'temperature' in n:
                p.uniform_(0.5, 2.)
            elif n.endswith('bias') or 'token' in n:
                p.normal_(0, 0.1)
        for n, b in ref.named_buffers():
            if 'running_var' in n:
                b.uniform_(0.5, 2.)
            elif 'running_mean' in n:
                b.normal_(0, 0.1)
    return ref


def official_layout(state_dict):
    """timm's state dict in the official layout (the inverse of timm's
    checkpoint_filter_fn): pos_embeder, fused class-attention qkv."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith('pos_embed.'):
            out['pos_embeder.' + key[10:]] = value
        elif '.attn.q.' in key and key.startswith('cls_attn_blocks'):
            kind = key.rsplit('.', 1)[1]
            parts = [state_dict[key.replace('.q.', f'.{n}.')] for n in 'qkv']
            out[key.replace('.q.', '.qkv.')] = torch.cat(parts, 0)
        elif '.attn.k.' in key or '.attn.v.' in key:
            assert key.startswith('cls_attn_blocks') and kind
        else:
            out[key] = value
    return out


def build_classifier(arch, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.XCiT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead',
                num_classes=1000,
                in_channels=XCiT.arch_zoo[arch]['embed_dims'])))


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('arch, timm_name, size', [
    ('xcit-nano-12-p16', 'xcit_nano_12_p16_224', (224, 160)),
    ('xcit-tiny-24-p8', 'xcit_tiny_24_p8_224', (64, 96)),
])
def test_timm_parity(arch, timm_name, size, fused_attn):
    ref = timm_reference(timm_name)
    ours = build_classifier(arch, fused_attn=fused_attn).eval()
    ours.load_state_dict(convert_xcit(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = ref(x)
        logits = ours(x, mode='tensor')
    assert (expected - expected.mean(0)).abs().mean() > 1e-2  # not constant
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)


def test_timm_parity_featmaps():
    """Our featmaps are timm's forward_intermediates (NCHW, no norm)."""
    ref = timm_reference('xcit_tiny_12_p16_224')
    ours = XCiT('xcit-tiny-12-p16', out_type='featmap',
                out_indices=(3, 5, 7, 11)).eval()
    state = convert_xcit(ref.state_dict())
    report = ours.load_state_dict(
        {k[9:]: v for k, v in state.items() if k.startswith('backbone.')},
        strict=False)
    assert report.missing_keys == []
    assert all(k.startswith(('cls_token', 'cls_attn_blocks', 'norm.'))
               for k in report.unexpected_keys)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        inter = ref.forward_intermediates(
            x, indices=[3, 5, 7, 11], intermediates_only=True)
        outs = ours(x)
    for out, expected in zip(outs, inter):
        assert out.shape == (1, 192, 4, 6) and out.is_contiguous()
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------- converter
def test_converter_official_and_timm_layouts():
    ref = timm_reference('xcit_nano_12_p8_224')
    timm_sd = ref.state_dict()
    official = official_layout(timm_sd)
    assert 'pos_embeder.token_projection.weight' in official
    assert 'cls_attn_blocks.0.attn.qkv.weight' in official
    assert LAYOUT(official) and LAYOUT(timm_sd)
    assert get_converter('xcit').function is convert_xcit
    from_official = get_converter('XCiT')({'model': official})
    from_timm = convert_xcit(timm_sd)
    assert from_official.keys() == from_timm.keys()
    for key, value in from_timm.items():
        torch.testing.assert_close(from_official[key], value, msg=key)
    ours = build_classifier('xcit-nano-12-p8')
    ours.load_state_dict(from_official, strict=True)
    torch.testing.assert_close(
        ours.backbone.blocks[3].attn.head_temperature.data,
        ref.blocks[3].attn.temperature.data.flatten())
    torch.testing.assert_close(
        ours.backbone.cls_attn_blocks[1].attn.v.weight.data,
        ref.cls_attn_blocks[1].attn.v.weight.data)
    with pytest.raises(KeyError, match=r"not in the official.*\['fpn1"):
        convert_xcit(dict(official, **{'fpn1.0.weight': torch.zeros(1)}))
    assert not LAYOUT({'blocks.0.attn.qkv.weight': 0})  # a ViT


def test_pretrained_official_checkpoint(tmp_path):
    """Official-layout file -> init_cfg Pretrained, at another input size."""
    ref = timm_reference('xcit_nano_12_p16_224')
    torch.save({'model': official_layout(ref.state_dict()), 'epoch': 399},
               tmp_path / 'xcit_nano_12_p16_224.pth')
    ours = build_classifier(
        'xcit-nano-12-p16',
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(tmp_path / 'xcit_nano_12_p16_224.pth'),
            prefix='backbone.'))
    ours.init_weights()
    ours.eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        torch.testing.assert_close(ours.backbone(x)[0],
                                   ref.forward_head(ref.forward_features(x),
                                                    pre_logits=True),
                                   atol=1e-4, rtol=0)


def test_mmpretrain_xcit_is_another_class():
    from mmpretrain.registry import MODELS
    ours = MODELS.build(dict(type='mmvitplug.XCiT', arch=dict(
        ARCH), out_type='featmap'))
    assert type(ours) is XCiT
    upstream = MODELS.get('XCiT')
    assert upstream is not XCiT and upstream.__module__.startswith(
        'mmpretrain')


# ------------------------------------------------------------ dense pyramid
def test_scale_pyramid_is_the_papers():
    """p16: ConvT-norm-GELU-ConvT / ConvT / id / maxpool 2; p8: ConvT / id
    / maxpool 2 / maxpool 4 (the official detection backbone's fpn1..4)."""
    from mmvitplug.models.necks import ScalePyramid
    p16 = ScalePyramid(32, in_stride=16)
    assert [type(m).__name__ for m in p16.fpn1] == [
        'ConvTranspose2d', 'BatchNorm2d', 'GELU', 'ConvTranspose2d']
    assert isinstance(p16.fpn2, nn.ConvTranspose2d)
    assert isinstance(p16.fpn3, nn.Identity)
    assert p16.fpn4.kernel_size == 2 and p16.fpn4.stride == 2
    p8 = ScalePyramid(32, in_stride=8)
    assert isinstance(p8.fpn1, nn.ConvTranspose2d)
    assert isinstance(p8.fpn2, nn.Identity)
    assert (p8.fpn3.kernel_size, p8.fpn4.kernel_size) == (2, 4)
    maps = [torch.randn(2, 32, 6, 4) for _ in range(4)]
    outs = p16.eval()(maps)
    assert [o.shape[-2:] for o in outs] == [(24, 16), (12, 8), (6, 4),
                                            (3, 2)]
    torch.testing.assert_close(outs[2], maps[2])
    torch.testing.assert_close(outs[3], F.max_pool2d(maps[3], 2))
    deconv = p16.fpn1
    torch.testing.assert_close(
        outs[0], deconv[3](deconv[2](deconv[1](deconv[0](maps[0])))))
    assert [o.shape[-2:] for o in p8(maps)] == [(12, 8), (6, 4), (3, 2),
                                                (1, 1)]
    gn = ScalePyramid(32, norm_cfg=dict(type='GN', num_groups=4))
    assert isinstance(gn.fpn1[1], nn.GroupNorm)
    up8 = ScalePyramid(8, 16, out_strides=(16, 2)).eval()
    assert len(up8.fpn2) == 7  # 3 deconvs, norm + GELU between them
    outs = up8([torch.randn(1, 8, 2, 2)] * 2)
    assert [o.shape[-1] for o in outs] == [2, 16]
    with pytest.raises(ValueError, match=r'expects 4 backbone maps.*got 2'):
        p16(maps[:2])
    with pytest.raises(ValueError, match='in_stride must be a power of two'):
        ScalePyramid(32, in_stride=12)
    with pytest.raises(ValueError, match=r'out_strides\[1\] must be'):
        ScalePyramid(32, out_strides=(4, 6))


def test_dense_outputs_feed_the_pyramid():
    """Backbone layers at stride p -> ScalePyramid -> mmdet FPN, any size."""
    from mmdet.registry import MODELS
    neck = MODELS.build([
        dict(type='mmvitplug.ScalePyramid', in_channels=32, in_stride=4),
        dict(type='FPN', in_channels=[32] * 4, out_channels=16, num_outs=5)
    ])
    feats = tiny(out_type='featmap', arch=dict(ARCH, num_layers=4),
                 out_indices=(0, 1, 2, 3)).eval()(torch.randn(1, 3, 64, 96))
    outs = neck(feats)  # patch 4: all four maps are 16 x 24
    assert [o.shape[-2:] for o in outs] == [(16, 24), (8, 12), (4, 6),
                                            (2, 3), (1, 2)]
