# Copyright (c) mmvitplug contributors.
"""What is ConViT-specific: GPSA, relative indices of any grid, the class
token joining mid-trunk, parity with timm (the official layout), the
converter.

The backbone contract runs for ConViT in test_contract.py on a GPSA-only
trunk; :func:`test_contract_with_class_token_joining_mid_trunk` runs the
same checks on trunks where the class token joins before a later block.
"""
from dataclasses import replace
from functools import partial

import pytest
import test_contract as contract
import torch
import torch.nn as nn

from mmvitplug.converters.convit import LAYOUT, convert_convit
from mmvitplug.layers import Block, DropPath, resize_pos_embed
from mmvitplug.models.backbones.convit import (GPSA, ConViT, GPSABlock,
                                               relative_indices)
from _builders import TINY_ARCHS, build_tiny

ARCH = TINY_ARCHS['ConViT']  # 2 GPSA blocks, then one self-attention block
tiny = partial(build_tiny, ConViT)
timm = pytest.importorskip('timm')


def _randomize(module, seed=1):
    """Random values everywhere (biases and gates included)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())
    return module


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


# ---------------------------------------------------------- relative indices
def test_relative_indices_square_equal_official():
    """timm's copy of the official ``get_rel_indices`` (square grids)."""
    ref = timm.models.convit.GPSA(8, num_heads=2).get_rel_indices(25)[0]
    ours = relative_indices((5, 5))
    assert ours.shape == (3, 25 * 25)
    torch.testing.assert_close(ours.view(3, 25, 25).permute(1, 2, 0), ref,
                               rtol=0, atol=0)


def test_relative_indices_any_grid():
    """(dx, dy, dx^2 + dy^2) of key minus query, row-major patches."""
    H, W = 2, 3
    rel = relative_indices((H, W), dtype=torch.float64).view(3, 6, 6)
    assert rel.dtype == torch.float64
    for n in range(H * W):
        for m in range(H * W):
            dx, dy = m % W - n % W, m // W - n // W
            assert rel[:, n, m].tolist() == [dx, dy, dx * dx + dy * dy]
    # not the transposed grid's
    assert not torch.equal(rel.flatten(1), relative_indices((3, 2)).double())


def test_relative_indices_cached_per_grid():
    model = tiny()
    a = model.relative_indices((4, 4), torch.device('cpu'), torch.float32)
    assert model.relative_indices((4, 4), torch.device('cpu'),
                                  torch.float32) is a
    b = model.relative_indices((4, 6), torch.device('cpu'), torch.float32)
    assert b.shape == (3, 24 * 24) and len(model._rel_cache) == 1
    assert model.relative_indices((4, 4), torch.device('cpu'),
                                  torch.float32) is not a  # the last only
    assert model.relative_indices((4, 4), torch.device('cpu'),
                                  torch.float64).dtype == torch.float64


# --------------------------------------------------------------------- GPSA
def _official_gpsa(attn, x, rel):
    """The official GPSA forward, written out (mixing, renormalisation)."""
    B, N, C = x.shape
    H, D = attn.num_heads, C // attn.num_heads
    q, k = attn.qk(x).reshape(B, N, 2, H, D).permute(2, 0, 3, 1, 4)
    v = attn.v(x).reshape(B, N, H, D).permute(0, 2, 1, 3)
    r = rel.view(3, N, N).permute(1, 2, 0)[None].expand(B, -1, -1, -1)
    pos = attn.pos_proj(r).permute(0, 3, 1, 2).softmax(-1)
    patch = (q @ k.transpose(-2, -1) * D**-0.5).softmax(-1)
    gate = torch.sigmoid(attn.gating_param).view(1, -1, 1, 1)
    a = (1. - gate) * patch + gate * pos
    a = a / a.sum(-1, keepdim=True)
    return attn.proj((a @ v).transpose(1, 2).reshape(B, N, C))


@pytest.mark.parametrize('hw', [(3, 3), (2, 3)])
def test_gpsa_reference_formula(hw):
    attn = _randomize(GPSA(16, num_heads=4)).eval()
    N = hw[0] * hw[1]
    x = torch.randn(2, N, 16)
    rel = relative_indices(hw)
    expected = _official_gpsa(attn, x, rel)
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x, rel), expected, atol=1e-5,
                                   rtol=1e-5)
    if hw[0] == hw[1]:  # a square grid is found from N
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)
    # the gates and the positional projection matter
    with torch.no_grad():
        attn.gating_param.fill_(-20.)  # content attention only
    assert not torch.allclose(attn(x, rel), expected, atol=1e-3)
    content_only = attn(x, rel)
    with torch.no_grad():
        attn.pos_proj.weight.mul_(3.)
    torch.testing.assert_close(attn(x, rel), content_only)
    with torch.no_grad():
        attn.gating_param.fill_(0.)
    assert not torch.allclose(attn(x, rel), content_only, atol=1e-3)


@pytest.mark.parametrize('qkv_bias', [True, False])
@pytest.mark.parametrize('hw', [(3, 3), (2, 4)])
def test_gpsa_fused_equals_explicit(qkv_bias, hw):
    """Outputs and all gradients (float64: no rounding noise); the fused
    path leaves out the renormalisation, which is exactly the identity."""
    attn = _randomize(GPSA(24, num_heads=3, qkv_bias=qkv_bias)).double()
    assert (attn.qk.bias is None) != qkv_bias
    assert (attn.v.bias is None) != qkv_bias
    rel = relative_indices(hw, dtype=torch.float64)
    x = torch.randn(2, hw[0] * hw[1], 24, dtype=torch.float64,
                    requires_grad=True)
    outs, grads = [], []
    for fused in (True, False):
        attn.fused_attn = fused
        attn.zero_grad()
        x.grad = None
        out = attn(x, rel)
        out.square().sum().backward()
        outs.append(out)
        grads.append((_grads(attn), x.grad.clone()))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-10,
                               rtol=1e-10)
    for name, grad in grads[0][0].items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, grads[1][0][name], atol=1e-10,
                                   rtol=1e-10, msg=name)


def test_gpsa_attention_dropout():
    """Dropout on the mixed weights (official): both paths draw the same
    mask in training; no dropout in eval."""
    attn = _randomize(GPSA(16, num_heads=2, attn_drop=0.5, proj_drop=0.25))
    assert attn.attn_drop.p == 0.5 and attn.proj_drop.p == 0.25
    x = torch.randn(2, 9, 16)
    outs = []
    for fused in (True, False):
        attn.fused_attn = fused
        attn.train()
        torch.manual_seed(3)
        outs.append(attn(x))
        assert not torch.allclose(attn(x), attn(x))
        attn.eval()
        torch.testing.assert_close(attn(x), attn(x))
    torch.testing.assert_close(outs[0], outs[1])


def test_gpsa_errors():
    attn = GPSA(16, num_heads=2)
    with pytest.raises(ValueError, match='10 tokens.*square'):
        attn(torch.randn(1, 10, 16))
    with pytest.raises(ValueError,
                       match=r'\(3, 1296\).*12 tokens.*\(3, 144\)'):
        attn(torch.randn(1, 12, 16), relative_indices((6, 6)))
    with pytest.raises(ValueError, match=r'dim \(10\).*num_heads \(4\)'):
        GPSA(10, num_heads=4)


@pytest.mark.parametrize('strength', [1., 2.5])
def test_local_init_is_a_convolution(strength):
    """v = identity; head (h1, h2) of the 3 x 3 head grid attends around
    the offset (dx, dy) = (h2 - 1, h1 - 1), sharper with the strength."""
    attn = GPSA(18, num_heads=9, locality_strength=strength)
    attn.local_init()
    torch.testing.assert_close(attn.v.weight, torch.eye(18))
    w = attn.pos_proj.weight
    for h1 in range(3):
        for h2 in range(3):
            head = h1 + 3 * h2
            assert w[head].tolist() == pytest.approx(
                [2 * (h2 - 1) * strength, 2 * (h1 - 1) * strength,
                 -strength])
    with torch.no_grad():
        attn.pos_proj.bias.zero_()
    pos = attn.positional_scores(relative_indices((5, 5)), 25)
    centre = 2 * 5 + 2
    for h1 in range(3):
        for h2 in range(3):
            peak = pos[h1 + 3 * h2, centre].argmax().item()
            assert (peak % 5 - 2, peak // 5 - 2) == (h2 - 1, h1 - 1)
    # a stronger locality concentrates the positional attention
    stronger = GPSA(18, num_heads=9, locality_strength=2 * strength)
    stronger.local_init()
    with torch.no_grad():
        stronger.pos_proj.bias.zero_()
    sharper = stronger.positional_scores(relative_indices((5, 5)), 25)
    assert torch.all(sharper[:, centre].amax(-1) > pos[:, centre].amax(-1))


def test_gpsa_block():
    block = _randomize(GPSABlock(16, 2, locality_strength=1., drop_path=0.2,
                                 drop=0.1, attn_drop=0.15)).eval()
    assert isinstance(block.attn, GPSA)
    assert block.drop_path1.drop_prob == 0.2
    assert block.attn.attn_drop.p == 0.15 and block.mlp.drop.p == 0.1
    x, rel = torch.randn(2, 6, 16), relative_indices((2, 3))
    y = x + block.attn(block.norm1(x), rel)
    torch.testing.assert_close(block(x, rel), y + block.mlp(block.norm2(y)))


# ----------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert (model.embed_dims, model.num_layers, model.local_up_to_layer,
            model.patch_size) == (32, 3, 2, 8)
    assert model.pos_embed.shape == (1, 16, 32)  # no class-token entry
    assert [type(b) for b in model.blocks] == [GPSABlock, GPSABlock, Block]
    names = {n for n, _ in model.named_parameters()}
    for key in ('patch_embed.proj.weight', 'cls_token', 'pos_embed',
                'blocks.1.norm1.weight', 'blocks.1.attn.qk.weight',
                'blocks.1.attn.v.weight', 'blocks.1.attn.pos_proj.weight',
                'blocks.1.attn.pos_proj.bias', 'blocks.1.attn.gating_param',
                'blocks.1.attn.proj.bias', 'blocks.1.mlp.fc1.weight',
                'blocks.2.attn.qkv.weight', 'blocks.2.attn.proj.weight',
                'blocks.2.norm2.bias', 'blocks.2.mlp.fc2.bias',
                'norm.weight'):
        assert key in names, key
    # official: no q/k/v biases
    assert 'blocks.1.attn.qk.bias' not in names
    assert 'blocks.2.attn.qkv.bias' not in names
    biased = tiny(qkv_bias=True)
    assert biased.blocks[0].attn.v.bias is not None
    assert biased.blocks[2].attn.qkv.bias is not None
    assert tiny(use_pos_embed=False).pos_embed is None
    assert len(tiny(arch=dict(ARCH, local_up_to_layer=0)).blocks) == 3
    with torch.device('meta'):
        assert ConViT('convit-tiny', img_size=(224, 160)).pos_embed.shape[1] \
            == 140


def test_arch_zoo_values():
    for name, heads in (('tiny', 4), ('small', 9), ('base', 16)):
        assert ConViT.arch_zoo[f'convit-{name}'] == dict(
            embed_dims=48 * heads, num_layers=12, num_heads=heads,
            feedforward_channels=192 * heads, local_up_to_layer=10,
            img_size=224)


# (arch, timm model, millions with a 1000-class head: timm = official)
PARAMS = [('convit-tiny', 'convit_tiny', 5.711),
          ('convit-small', 'convit_small', 27.777),
          ('convit-base', 'convit_base', 86.540)]


@pytest.mark.parametrize('arch, timm_name, millions', PARAMS)
def test_parameter_counts(arch, timm_name, millions):
    with torch.device('meta'):
        model = ConViT(arch)
        ref = timm.create_model(timm_name)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == sum(p.numel() for p in ref.parameters())
    assert round(count / 1e6, 3) == millions


def test_class_token_joins_before_local_up_to_layer():
    """Blocks 0, 1 (GPSA) on the patches, the class token, block 2, the
    final norm; every out_type reads these tokens."""
    model = _randomize(tiny(out_type='raw', out_indices=(0, 1, 2))).eval()
    x = torch.randn(2, 3, 32, 48)  # a 4 x 6 grid
    rel = relative_indices((4, 6))
    t = model.patch_embed(x)[0] + resize_pos_embed(
        model.pos_embed, (4, 4), (4, 6), num_extra_tokens=0)
    t0 = model.blocks[0](t, rel)
    t1 = model.blocks[1](t0, rel)
    t2 = model.blocks[2](torch.cat((model.cls_token.expand(2, -1, -1), t1),
                                   1))
    t2 = model.norm(t2)
    outs = model(x)
    for out, ref in zip(outs, (t0, t1, t2[:, 1:])):
        torch.testing.assert_close(out, ref)
    state = model.state_dict()
    for out_type, indices, expected in (
            ('cls_token', -1, [t2[:, 0]]),
            ('cls_token', (2, ), [t2[:, 0]]),
            ('avg_featmap', (1, 2), [t1.mean(1), t2[:, 1:].mean(1)]),
            ('featmap', 0, [t0.transpose(1, 2).reshape(2, 32, 4, 6)])):
        other = tiny(out_type=out_type, out_indices=indices).eval()
        other.load_state_dict(state, strict=other.cls_token is not None)
        for out, ref in zip(other(x), expected):
            torch.testing.assert_close(out, ref)
    # the class token gathers the image: it depends on the input
    cls = tiny(out_type='cls_token').eval()
    cls.load_state_dict(state)
    assert not torch.allclose(cls(x)[0], cls(torch.randn(2, 3, 32, 48))[0])


def test_class_token_arguments():
    with pytest.raises(ValueError, match=r'cls_token.*out_indices >= 2.*'
                       r'\[1, 2\]'):
        tiny(out_indices=(1, 2))
    with pytest.raises(ValueError, match=r'cls_token.*local_up_to_layer < '
                       'num_layers=3.*got 3'):
        tiny(arch=dict(ARCH, local_up_to_layer=3))
    for bad in (4, -1, 1.5):
        with pytest.raises(ValueError, match=r'local_up_to_layer.*\[0, '
                           f'num_layers=3\\], got {bad}'):
            tiny(arch=dict(ARCH, local_up_to_layer=bad))
    # built only when an output depends on it
    assert tiny(out_type='featmap', out_indices=(0, 1)).cls_token is None
    assert tiny(out_type='featmap', out_indices=(0, 2)).cls_token is not None
    assert tiny(arch=dict(ARCH, local_up_to_layer=3),
                out_type='featmap').cls_token is None
    assert tiny(arch=dict(ARCH, local_up_to_layer=0)).cls_token is not None


# the contract's checks on the other trunks (test_contract.py runs them with
# the class token joining before block 2): joining before block 1, and GPSA
# blocks only (no class token)
SPEC = next(f for f in contract.FAMILIES if f.cls is ConViT)
JOIN_SPECS = [
    replace(SPEC, arch=dict(ARCH, local_up_to_layer=1),
            label='ConViT-join1'),
    replace(SPEC, arch=dict(ARCH, local_up_to_layer=3),
            kwargs=dict(SPEC.kwargs, out_type='avg_featmap'),
            variants={'avg_featmap': {}, 'featmap': dict(out_type='featmap')},
            full='avg_featmap', cp_variants=('featmap', ),
            fused_attn_variants=('avg_featmap', ), label='ConViT-gpsa-only'),
]


@pytest.mark.parametrize('fam', JOIN_SPECS, ids=lambda f: f.label)
def test_contract_with_class_token_joining_mid_trunk(
        fam, monkeypatch, tmp_path):
    if fam.arch['local_up_to_layer'] >= 2:  # 'raw' outputs drop the class
        # token: a chain of blocks rebuilds only up to the joining block
        contract.test_out_indices_are_block_outputs_and_final_norm(fam)
    for variant in fam.variants:
        contract.test_all_parameters_receive_gradients(fam, variant)
        contract.test_layer_depth_is_where_parameters_enter(fam, variant)
    for out_indices in (-1, (-3, 1, 2)):
        contract.test_out_types_agree_with_raw(fam, out_indices)
    for frozen_stages in (-1, 0, 1, 2, 3):
        contract.test_frozen_stages(fam, frozen_stages)
    contract.test_get_layer_depth(fam)
    contract.test_fused_attn_switch(fam)
    contract.test_drop_path_rate(fam)
    contract.test_pretrained_init_cfg_loads_once(fam, 'backbone.', tmp_path)
    with monkeypatch.context() as patch:
        contract.test_with_cp_identical(fam, fam.full, patch)
    # the class token's depth is that of the block it joins before
    model = contract.build(fam, variant='cls_token') \
        if 'cls_token' in fam.variants else None
    if model is not None:
        local = fam.arch['local_up_to_layer']
        assert model.get_layer_depth('cls_token') == (local + 1, 5)


def test_dropout_rates_reach_layers():
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2, drop_path_rate=0.3)
    assert model.pos_drop.p == 0.1
    for block in model.blocks:
        assert block.attn.attn_drop.p == 0.2
        assert block.attn.proj_drop.p == 0.1 and block.mlp.drop.p == 0.1
    # official: linear over the blocks
    assert isinstance(model.blocks[0].drop_path1, nn.Identity)
    assert isinstance(model.blocks[1].drop_path1, DropPath)
    assert model.blocks[1].drop_path2.drop_prob == pytest.approx(0.15)
    assert model.blocks[2].drop_path1.drop_prob == pytest.approx(0.3)


def test_default_init():
    model = tiny()
    for block in model.blocks[:2]:
        torch.testing.assert_close(block.attn.v.weight, torch.eye(32))
        assert torch.all(block.attn.gating_param == 1)
        assert torch.all(block.attn.pos_proj.bias == 0)
        assert block.attn.pos_proj.weight[:, 2].tolist() == [-1.] * 4
    qkv = model.blocks[2].attn.qkv
    assert 0.015 < qkv.weight.std().item() < 0.025
    assert 0.015 < model.pos_embed.std().item() < 0.025
    assert model.cls_token.abs().sum() > 0
    assert torch.all(model.norm.weight == 1)
    plain = tiny(use_local_init=False)
    assert 0.015 < plain.blocks[0].attn.v.weight.std().item() < 0.025
    assert plain.blocks[0].attn.pos_proj.weight[:, 2].abs().max() < 0.1
    strong = tiny(locality_strength=3.)
    assert strong.blocks[1].attn.pos_proj.weight[:, 2].tolist() == [-3.] * 4
    assert strong.blocks[1].attn.locality_strength == 3.


def test_norm_cfg_and_final_norm():
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3))
    assert model.blocks[0].norm1.eps == 1e-3 and model.norm.eps == 1e-3
    assert model.blocks[2].norm2.eps == 1e-3
    assert isinstance(tiny(final_norm=False).norm, nn.Identity)


def test_use_pos_embed():
    """No absolute position embedding: a zero one."""
    plain = _randomize(tiny(use_pos_embed=False)).eval()
    assert plain.pos_embed is None
    model = tiny().eval()
    report = model.load_state_dict(plain.state_dict(), strict=False)
    assert report.missing_keys == ['pos_embed']
    x = torch.randn(2, 3, 32, 40)
    assert not torch.allclose(model(x)[0], plain(x)[0], atol=1e-3)
    with torch.no_grad():
        model.pos_embed.zero_()
    torch.testing.assert_close(model(x)[0], plain(x)[0])


# --------------------------------------------------------------- timm parity
def build_classifier(arch='convit-tiny', **backbone):
    from mmpretrain.registry import MODELS
    dims = ConViT.arch_zoo[arch]['embed_dims']
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.ConViT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=dims)))


def timm_reference(name='convit_tiny', **kwargs):
    """timm model with random weights that all matter (biases, gates)."""
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if n.endswith('bias') or 'token' in n or 'gating' in n:
                p.normal_(0, 0.2)
    return ref


@pytest.mark.parametrize('fused_attn', [True, False])
def test_timm_parity_tiny(fused_attn):
    ref = timm_reference()
    state = convert_convit({'model': ref.state_dict()})
    ours = build_classifier('convit-tiny', fused_attn=fused_attn).eval()
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
    """Our featmaps are timm's forward_intermediates (NCHW) before and
    after the class token joins; the last one is normalised."""
    ref = timm_reference(img_size=64)
    ours = ConViT('convit-tiny', img_size=64, out_type='featmap',
                  out_indices=(3, 10, 11))
    state = convert_convit(ref.state_dict())
    ours.load_state_dict(
        {k[9:]: v for k, v in state.items() if k.startswith('backbone.')})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        inter = ref.forward_intermediates(
            x, indices=[3, 10, 11], intermediates_only=True)
        normed = ref.forward_intermediates(
            x, indices=[11], norm=True, intermediates_only=True)
        outs = ours.eval()(x)
    torch.testing.assert_close(outs[0], inter[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs[1], inter[1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs[2], normed[0], atol=1e-4, rtol=1e-4)
    assert outs[2].is_contiguous()


def test_pretrained_official_checkpoint(tmp_path):
    """Official layout file -> init_cfg Pretrained, pos_embed resized."""
    ref = timm_reference(img_size=64)  # 4x4 patches
    torch.save(ref.state_dict(), tmp_path / 'convit_tiny.pth')  # bare
    ours = build_classifier(
        'convit-tiny',
        img_size=96,  # 6x6 patches
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(tmp_path / 'convit_tiny.pth'),
            prefix='backbone.'))
    ours.init_weights()
    ours.eval()
    pos = resize_pos_embed(ref.pos_embed.data, (4, 4), (6, 6),
                           num_extra_tokens=0)
    assert ours.backbone.pos_embed.shape == (1, 36, 192)
    torch.testing.assert_close(ours.backbone.pos_embed.data, pos)
    torch.testing.assert_close(
        ours.backbone.blocks[3].attn.gating_param.data,
        ref.blocks[3].attn.gating_param.data)

    big = timm.create_model('convit_tiny', img_size=96).eval()
    big.load_state_dict(dict(ref.state_dict(), pos_embed=pos))
    ours.head.fc.load_state_dict(ref.head.state_dict())
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), big(x), atol=1e-4, rtol=1e-4)


def test_any_input_size():
    """Rectangular grids: position embedding resized, relative indices of
    the (H, W) grid; fused equals explicit."""
    fused = _randomize(tiny(out_type='featmap', out_indices=(1, 2))).eval()
    explicit = tiny(out_type='featmap', out_indices=(1, 2), fused_attn=False)
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(1, 3, 24, 56)
    outs = fused(x)
    assert [o.shape for o in outs] == [(1, 32, 3, 7)] * 2
    for a, b in zip(outs, explicit.eval()(x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- converter
def official_state(name='convit_tiny'):
    with torch.device('meta'):
        model = timm.create_model(name, pretrained=False)
    torch.manual_seed(0)
    return {k: torch.randn(v.shape) for k, v in model.state_dict().items()}


def test_convert_convit_key_sets():
    src = official_state()
    out = convert_convit(src)
    assert len(out) == len(src)  # every official key consumed, none added
    assert {k for k in out if not k.startswith('backbone.')} == {
        'head.fc.weight', 'head.fc.bias'}
    assert out['backbone.blocks.3.attn.gating_param'] is \
        src['blocks.3.attn.gating_param']
    assert out['head.fc.bias'] is src['head.bias']
    back = {(k[9:] if k.startswith('backbone.') else 'head.' + k[8:]): v
            for k, v in out.items()}
    assert back == src  # round trip


@pytest.mark.parametrize('arch, timm_name, _', PARAMS)
def test_convert_convit_matches_module_keys(arch, timm_name, _):
    with torch.device('meta'):
        backbone = ConViT(arch)
        ref = timm.create_model(timm_name)
    out = convert_convit({k: torch.empty(0) for k in ref.state_dict()})
    assert {k[9:] for k in out if k.startswith('backbone.')} == set(
        backbone.state_dict())
    biased = convert_convit(official_state() | {
        'blocks.0.attn.qk.bias': torch.zeros(384),
        'blocks.11.attn.qkv.bias': torch.zeros(576)})
    assert 'backbone.blocks.11.attn.qkv.bias' in biased


def test_convert_convit_recognition_and_unknown_keys():
    src = official_state()
    assert LAYOUT(src) and LAYOUT({f'module.{k}': 0 for k in src}) is False
    assert not LAYOUT(convert_convit(src))
    with torch.device('meta'):
        deit = timm.create_model('deit_tiny_patch16_224').state_dict()
    assert not LAYOUT(deit)
    wrapped = {'model': {'module.' + k: v for k, v in src.items()},
               'epoch': 299}
    assert convert_convit(wrapped).keys() == convert_convit(src).keys()
    src['dist_token'] = torch.zeros(1, 1, 192)
    src['head_dist.weight'] = torch.zeros(1000, 192)
    with pytest.raises(KeyError, match="2 key.*dist_token.*head_dist"):
        convert_convit(src)


def test_bfloat16_autocast():
    """CPU autocast (``--amp``) runs both paths, forward and backward."""
    model = _randomize(tiny()).train()
    x = torch.randn(2, 3, 32, 40)
    ref = model.eval()(x)[0]
    for fused in (True, False):
        for m in model.modules():
            if hasattr(m, 'fused_attn'):
                m.fused_attn = fused
        model.train()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = model(x)[0]
        out.float().square().sum().backward()
        assert model.blocks[0].attn.gating_param.grad is not None
        model.eval()
        with torch.autocast('cpu', dtype=torch.bfloat16), torch.no_grad():
            low = model(x)[0].float()
        assert (low - ref).abs().max() < 0.1 * ref.abs().max()


def test_positional_scores_once_per_block_for_the_batch(monkeypatch):
    """The input-independent positional attention is computed once per
    GPSA block and forward, (heads, N, N), whatever the batch size."""
    shapes = []
    real = GPSA.positional_scores

    def recording(self, rel_indices, num_tokens):
        out = real(self, rel_indices, num_tokens)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(GPSA, 'positional_scores', recording)
    model = tiny().eval()
    for fused in (True, False):
        for block in model.blocks[:2]:
            block.attn.fused_attn = fused
        shapes.clear()
        model(torch.randn(5, 3, 32, 48))
        assert shapes == [(4, 24, 24)] * 2
