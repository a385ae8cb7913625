# Copyright (c) mmvitplug contributors.
import ast
import glob
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

import mmvitplug.models.norms  # noqa: F401  (registers mmvitplug.LN2d)
from mmvitplug.layers import (Attention, Block, ClassAttention,
                              ClassAttentionBlock, DropPath, LayerNorm2d,
                              LayerScale, Mlp, PatchEmbed, Sobel,
                              TalkingHeadsAttention, attend, check_mask,
                              drop_path, masked_softmax, record_attention,
                              record_weights, recording_attention,
                              resize_pos_embed)


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize('qkv_bias', [True, False])
def test_attention_fused_equals_explicit(qkv_bias):
    torch.manual_seed(0)
    attn = Attention(32, num_heads=4, qkv_bias=qkv_bias).eval()
    assert (attn.qkv.bias is not None) == qkv_bias
    x = torch.randn(3, 7, 32, requires_grad=True)
    out_fused = attn(x)
    out_fused.square().sum().backward()
    g_fused, gx_fused = _grads(attn), x.grad.clone()

    attn.zero_grad()
    x.grad = None
    attn.fused_attn = False
    out_explicit = attn(x)
    out_explicit.square().sum().backward()
    torch.testing.assert_close(out_fused, out_explicit, atol=1e-5, rtol=0)
    torch.testing.assert_close(x.grad, gx_fused, atol=1e-5, rtol=1e-5)
    for name, grad in _grads(attn).items():
        torch.testing.assert_close(grad, g_fused[name], atol=1e-5, rtol=1e-5)


def test_attention_matches_reference_formula():
    torch.manual_seed(0)
    attn = Attention(8, num_heads=2).eval()
    x = torch.randn(1, 5, 8)
    q, k, v = attn.qkv(x).reshape(1, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    w = torch.softmax(q @ k.transpose(-2, -1) / 2., dim=-1)  # sqrt(4) = 2
    ref = attn.proj((w @ v).transpose(1, 2).reshape(1, 5, 8))
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x), ref, atol=1e-6, rtol=1e-5)


def test_attention_dropout_only_in_training():
    attn = Attention(16, num_heads=2, attn_drop=0.5)
    x = torch.randn(2, 6, 16)
    attn.eval()
    torch.testing.assert_close(attn(x), attn(x))
    attn.train()
    for fused in (True, False):
        attn.fused_attn = fused
        assert not torch.allclose(attn(x), attn(x))


def test_attention_bad_heads():
    with pytest.raises(ValueError, match='divisible by num_heads'):
        Attention(10, num_heads=3)


def test_block_fused_equals_explicit_and_children():
    torch.manual_seed(0)
    block = Block(32, 2, mlp_ratio=3.).eval()
    assert block.mlp.fc1.out_features == 96
    assert isinstance(block.ls1, nn.Identity)
    assert isinstance(block.drop_path1, nn.Identity)
    names = {n for n, _ in block.named_parameters()}
    assert names == {
        f'{m}.{p}'
        for m in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1',
                  'mlp.fc2') for p in ('weight', 'bias')
    }
    x = torch.randn(2, 9, 32)
    y = block(x)
    block.attn.fused_attn = False
    torch.testing.assert_close(block(x), y, atol=1e-5, rtol=0)


def test_block_layer_scale_and_drop_path():
    block = Block(16, 2, init_values=1e-5, drop_path=0.3)
    assert isinstance(block.ls1, LayerScale)
    assert torch.all(block.ls2.gamma == 1e-5)
    assert isinstance(block.drop_path2, DropPath)
    assert block.drop_path2.drop_prob == 0.3
    # with gamma == 0 both residual branches vanish
    nn.init.zeros_(block.ls1.gamma)
    nn.init.zeros_(block.ls2.gamma)
    x = torch.randn(2, 4, 16)
    torch.testing.assert_close(block.eval()(x), x)


def test_mlp():
    torch.manual_seed(0)
    mlp = Mlp(8, hidden_features=12, out_features=4, act_layer=nn.ReLU)
    x = torch.randn(3, 8)
    ref = mlp.fc2(torch.relu(mlp.fc1(x)))
    torch.testing.assert_close(mlp.eval()(x), ref)
    assert Mlp(8).fc2.out_features == 8
    dropped = Mlp(8, drop=0.5).train()
    assert (dropped(torch.ones(64, 8)) == 0).any()


def test_drop_path_eval_identity():
    x = torch.randn(8, 3, 4)
    assert drop_path(x, 0.5, training=False) is x
    module = DropPath(0.5).eval()
    assert module(x) is x
    assert drop_path(x, 0., training=True) is x


def test_drop_path_training_statistics():
    torch.manual_seed(0)
    x = torch.ones(20000, 3, 2)
    out = DropPath(0.25).train()(x)
    per_sample = out.flatten(1)
    # each sample is either all zero or all rescaled by 1 / keep_prob
    dropped = (per_sample == 0).all(1)
    kept = (per_sample == 1 / 0.75).all(1)
    assert bool((dropped | kept).all())
    assert abs(dropped.float().mean().item() - 0.25) < 0.015
    assert abs(out.mean().item() - 1.) < 0.02


def test_drop_path_bad_rate():
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        DropPath(1.)


def test_layer_scale():
    ls = LayerScale(4, 0.1)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(ls(x), x * 0.1)
    assert ls.gamma.requires_grad


def test_patch_embed():
    torch.manual_seed(0)
    pe = PatchEmbed(32, 16, 3, 8)
    assert pe.grid_size == (2, 2) and pe.num_patches == 4
    x = torch.randn(2, 3, 32, 48)
    tokens, hw = pe(x)
    assert hw == (2, 3) and tokens.shape == (2, 6, 8)
    # token (row 1, col 2) is the conv output of that patch
    patch = x[:, :, 16:32, 32:48]
    ref = (pe.proj.weight * patch[:, None]).sum((2, 3, 4)) + pe.proj.bias
    torch.testing.assert_close(tokens[:, 5], ref, atol=1e-5, rtol=1e-5)
    assert isinstance(pe.norm, nn.Identity)
    normed = PatchEmbed(32, 16, 3, 8, norm_layer=nn.LayerNorm)
    assert torch.allclose(normed(x)[0].mean(-1), torch.zeros(2, 6),
                          atol=1e-5)


def test_patch_embed_errors():
    pe = PatchEmbed(32, 16, 3, 8)
    with pytest.raises(ValueError, match='30x32.*patch size 16x16'):
        pe(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match='not divisible'):
        PatchEmbed(30, 16, 3, 8)
    strict = PatchEmbed(32, 16, 3, 8, strict_img_size=True)
    strict(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='strict_img_size'):
        strict(torch.randn(1, 3, 32, 48))


def test_resize_pos_embed_identity_and_extra_tokens():
    pos = torch.randn(1, 2 + 3 * 4, 8)
    assert resize_pos_embed(pos, (3, 4), (3, 4), num_extra_tokens=2) is pos
    out = resize_pos_embed(pos, (3, 4), (6, 5), num_extra_tokens=2)
    assert out.shape == (1, 2 + 30, 8)
    torch.testing.assert_close(out[:, :2], pos[:, :2])
    # a constant grid stays constant under (bilinear) interpolation
    const = torch.cat([pos[:, :1], torch.ones(1, 12, 8)], 1)
    out = resize_pos_embed(const, (3, 4), (5, 7), mode='bilinear')
    torch.testing.assert_close(out[:, 1:], torch.ones(1, 35, 8))
    with pytest.raises(ValueError, match='needs 14'):
        resize_pos_embed(pos[:, 1:], (3, 4), (6, 6), num_extra_tokens=2)


@pytest.mark.parametrize('antialias', [False, True])
@pytest.mark.parametrize('dst', [(24, 24), (7, 9)])
def test_resize_pos_embed_matches_timm(antialias, dst):
    timm_pos = pytest.importorskip('timm.layers')
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 14 * 14, 16)
    ref = timm_pos.resample_abs_pos_embed(
        pos, list(dst), old_size=[14, 14], num_prefix_tokens=1,
        antialias=antialias)
    out = resize_pos_embed(pos, (14, 14), dst, antialias=antialias)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)


def test_layer_norm_2d():
    from mmcv.cnn import build_norm_layer
    torch.manual_seed(0)
    name, ln = build_norm_layer(dict(type='mmvitplug.LN2d', eps=1e-5), 6)
    assert isinstance(ln, LayerNorm2d) and name.startswith('ln')
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    x = torch.randn(2, 6, 3, 5)
    ref = nn.functional.layer_norm(
        x.permute(0, 2, 3, 1), (6, ), ln.weight, ln.bias, 1e-5)
    torch.testing.assert_close(ln(x), ref.permute(0, 3, 1, 2))
    with pytest.raises(ValueError, match='expects'):
        ln(torch.randn(2, 6))


def test_tokens_to_featmap_is_contiguous_nchw():
    from mmvitplug.layers import tokens_to_featmap
    tokens = torch.randn(2, 6, 4)
    fmap = tokens_to_featmap(tokens, (2, 3))
    assert fmap.shape == (2, 4, 2, 3) and fmap.is_contiguous()
    assert torch.equal(fmap[1, :, 1, 2], tokens[1, 5])
    with pytest.raises(ValueError, match='do not form a 3x3 grid'):
        tokens_to_featmap(tokens, (3, 3))


@pytest.mark.parametrize('backbone', [
    dict(type='mmvitplug.DeiT', arch=dict(embed_dims=16, num_layers=1,
         num_heads=2, feedforward_channels=32), img_size=32, patch_size=8),
    dict(type='mmvitplug.CaiT', arch=dict(embed_dims=16, num_layers=1,
         num_heads=2, feedforward_channels=32, init_values=0.1), img_size=32,
         patch_size=8),
    dict(type='mmvitplug.ResMLP', arch=dict(embed_dims=16, num_layers=1,
         feedforward_channels=32, init_values=0.1), img_size=32,
         patch_size=8),
    dict(type='mmvitplug.PatchConvNet', arch=dict(embed_dims=16,
         num_layers=1, init_values=0.1), patch_size=8),
], ids=lambda c: c['type'])
def test_backbone_featmaps_are_contiguous(backbone):
    """mmcv's RoIAlign misreads channels-last maps: no backbone returns one.
    """
    from mmvitplug.registry import MODELS
    model = MODELS.build(dict(backbone, out_type='featmap'))
    (fmap, ) = model(torch.randn(2, 3, 32, 32))
    assert fmap.shape == (2, 16, 4, 4) and fmap.is_contiguous()
    norm = build_norm_layer(dict(type='mmvitplug.LN2d'), 16)[1]
    assert norm(fmap).is_contiguous()


# ------------------------------------------------------------------ attend
def _randomize(module, seed=1):
    """Random values everywhere (biases, head mixing, LayerScale)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())
    return module


MASK_KINDS = ('none', 'keep_keys', 'keep_full', 'additive', 'additive_inf',
              'empty_row')


def _make_mask(kind, B, H, Nq, Nk, dtype=torch.float64):
    """A mask of each supported kind; every row keeps a key except in
    'empty_row', where query 0 of sample 0 has none."""
    g = torch.Generator().manual_seed(3)
    if kind == 'none':
        return None
    if kind == 'keep_keys':
        keep = torch.rand(B, Nk, generator=g) > 0.4
        keep[:, 1] = True
        return keep[:, None, None, :]
    if kind == 'keep_full':
        keep = torch.rand(B, H, Nq, Nk, generator=g) > 0.5
        keep[..., 0] |= ~keep.any(-1)
        return keep
    if kind == 'additive':
        return torch.randn(1, H, Nq, Nk, generator=g, dtype=dtype)
    if kind == 'additive_inf':
        bias = torch.randn(B, 1, Nq, Nk, generator=g, dtype=dtype)
        keep = torch.rand(B, 1, Nq, Nk, generator=g) > 0.5
        keep[..., 0] = True
        return bias.masked_fill(~keep, float('-inf'))
    keep = torch.ones(B, 1, Nq, Nk, dtype=torch.bool)
    keep[0, :, 0] = False
    return keep


@pytest.mark.parametrize('kind', MASK_KINDS)
def test_attend_fused_equals_explicit(kind):
    """Outputs and gradients (also of an additive mask) agree, float64."""
    torch.manual_seed(0)
    B, H, Nq, Nk, D = 2, 3, 4, 6, 5
    q, k, v = (torch.randn(B, H, n, D, dtype=torch.float64,
                           requires_grad=True) for n in (Nq, Nk, Nk))
    mask = _make_mask(kind, B, H, Nq, Nk)
    if mask is not None and mask.is_floating_point():
        mask.requires_grad_()
    inputs = [t for t in (q, k, v, mask) if t is not None and t.requires_grad]
    results = []
    for fused in (True, False):
        out = attend(q, k, v, mask=mask, fused=fused)
        grads = torch.autograd.grad(out.square().sum() + out.sum(), inputs)
        results.append((out, grads))
    (out_f, grads_f), (out_e, grads_e) = results
    torch.testing.assert_close(out_f, out_e, atol=1e-10, rtol=0)
    for g_f, g_e in zip(grads_f, grads_e):
        assert torch.isfinite(g_e).all()
        torch.testing.assert_close(g_f, g_e, atol=1e-10, rtol=0)
    if kind == 'empty_row':  # no key at all: zero output, not NaN
        assert torch.equal(out_e[0, :, 0], torch.zeros(H, D,
                                                       dtype=out_e.dtype))
        assert out_e[0, :, 1:].abs().sum() > 0


@pytest.mark.parametrize('fused', [True, False])
def test_attend_matches_formula(fused):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4), \
        torch.randn(2, 2, 5, 7)
    keep = torch.rand(2, 2, 3, 5) > 0.4
    keep[..., 2] = True
    bias = torch.randn(1, 2, 3, 5)
    for mask, keep_ref, bias_ref in ((None, 1., 0.), (keep, keep.float(), 0.),
                                     (bias, 1., bias)):
        logits = torch.einsum('bhqd,bhkd->bhqk', q, k) * 0.3 + bias_ref
        w = (logits - logits.amax(-1, keepdim=True)).exp() * keep_ref
        ref = (w / w.sum(-1, keepdim=True)) @ v
        out = attend(q, k, v, scale=0.3, mask=mask, fused=fused)
        torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    # the default scale is head_dim ** -0.5
    torch.testing.assert_close(
        attend(q, k, v, fused=fused), attend(q, k, v, scale=0.5,
                                             fused=fused))
    assert not torch.allclose(attend(q, k, v, fused=fused),
                              attend(q, k, v, scale=0.3, fused=fused))


def test_attend_dropout():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 6, 4) for _ in range(3))
    torch.manual_seed(7)
    out = attend(q, k, v, dropout_p=0.5, fused=False)
    torch.manual_seed(7)
    w = F.dropout(((q * 0.5) @ k.transpose(-2, -1)).softmax(-1), 0.5)
    torch.testing.assert_close(out, w @ v)
    plain = attend(q, k, v, fused=True)
    for fused in (True, False):
        a = attend(q, k, v, dropout_p=0.5, fused=fused)
        b = attend(q, k, v, dropout_p=0.5, fused=fused)
        assert not torch.allclose(a, b) and not torch.allclose(a, plain)
        torch.testing.assert_close(
            attend(q, k, v, dropout_p=0., fused=fused), plain, atol=1e-6,
            rtol=1e-5)


def test_attend_bad_inputs():
    q = torch.randn(2, 2, 3, 4)
    k = torch.randn(2, 2, 5, 4)
    with pytest.raises(ValueError, match=r'attend expects q, k, v of shape'):
        attend(q[0], k[0], k[0])
    with pytest.raises(ValueError, match='bool keep-mask.*int64'):
        attend(q, k, k, mask=torch.ones(2, 1, 1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\(2, 5\).*4-D.*\(B, 1, 1, Nk\)'):
        attend(q, k, k, mask=torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError,
                       match=r'\(2, 1, 1, 4\) does not broadcast.*'
                       r'\(2, 2, 3, 5\)'):
        attend(q, k, k, mask=torch.ones(2, 1, 1, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match='must be a torch.Tensor'):
        attend(q, k, k, mask=[[True]])


# ------------------------------------------------ every attention with masks
ATTENTIONS = {
    'Attention': lambda: Attention(32, num_heads=4),
    'TalkingHeads': lambda: TalkingHeadsAttention(32, num_heads=4),
    'ClassAttention-q1': lambda: ClassAttention(32, num_heads=4),
    'ClassAttention-q2-include': lambda: ClassAttention(
        32, num_heads=4, num_queries=2),
    'ClassAttention-q3-exclude': lambda: ClassAttention(
        32, num_heads=4, num_queries=3, keys_include_queries=False),
}


def _query_key_tokens(module, N):
    """Indices of the query tokens and of the key tokens in ``x``."""
    if isinstance(module, ClassAttention):
        Q = module.num_queries
        keys = range(N) if module.keys_include_queries else range(Q, N)
        return list(range(Q)), list(keys)
    return list(range(N)), list(range(N))


@pytest.mark.parametrize('kind', MASK_KINDS)
@pytest.mark.parametrize('name', ATTENTIONS)
def test_attention_layers_fused_equal_explicit(name, kind):
    """Every attention of the package: same outputs and gradients on both
    paths (float64, so only rounding differs), with and without masks."""
    module = _randomize(ATTENTIONS[name]()).double().eval()
    B, N = 2, 9
    queries, keys = _query_key_tokens(module, N)
    mask = _make_mask(kind, B, module.num_heads, len(queries), len(keys))
    torch.manual_seed(0)
    x = torch.randn(B, N, 32, dtype=torch.float64, requires_grad=True)
    results = []
    for fused in (True, False):
        module.fused_attn = fused
        module.zero_grad()
        x.grad = None
        out = module(x, mask=mask)
        (out.square().sum() + out.sum()).backward()
        results.append((out, x.grad.clone(), _grads(module)))
    (out_f, gx_f, g_f), (out_e, gx_e, g_e) = results
    assert out_f.shape == (B, len(queries), 32)
    torch.testing.assert_close(out_f, out_e, atol=1e-10, rtol=0)
    torch.testing.assert_close(gx_f, gx_e, atol=1e-10, rtol=0)
    for n, g in g_e.items():
        assert torch.isfinite(g).all(), n
        torch.testing.assert_close(g_f[n], g, atol=1e-10, rtol=0, msg=n)
    if mask is not None:  # the mask changes something
        assert not torch.allclose(module(x), out_e)


def _keep_keys(module, B, N, seed=0):
    """A random keep-mask over the key tokens; query tokens of class
    attention stay (they cannot be dropped)."""
    queries, keys = _query_key_tokens(module, N)
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(B, len(keys), generator=g) > 0.5
    keep[:, -1] = True
    if isinstance(module, ClassAttention) and module.keys_include_queries:
        keep[:, queries] = True
    keep[0, -2] = False  # something is dropped in sample 0
    return keep


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('name', ATTENTIONS)
def test_attention_keep_mask_equals_dropping_tokens(name, fused):
    """Masking keys == running on the kept tokens only (token pruning)."""
    module = _randomize(ATTENTIONS[name]()).double().eval()
    module.fused_attn = fused
    B, N = 3, 10
    torch.manual_seed(0)
    x = torch.randn(B, N, 32, dtype=torch.float64)
    queries, keys = _query_key_tokens(module, N)
    keep = _keep_keys(module, B, N)
    out = module(x, mask=keep[:, None, None, :])
    for b in range(B):
        kept_keys = [keys[i] for i in keep[b].nonzero()[:, 0].tolist()]
        if isinstance(module, ClassAttention):
            kept = sorted(set(queries) | set(kept_keys))
            rows = queries
        else:
            kept = rows = kept_keys
        ref = module(x[b:b + 1, kept])
        torch.testing.assert_close(out[b, rows], ref[0], atol=1e-12,
                                   rtol=0)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('name', ATTENTIONS)
def test_attention_masked_keys_get_zero_weight(name, fused):
    """Masked tokens neither change the kept queries' outputs nor receive
    gradient from them."""
    module = _randomize(ATTENTIONS[name]()).double().eval()
    module.fused_attn = fused
    B, N = 2, 9
    torch.manual_seed(0)
    x = torch.randn(B, N, 32, dtype=torch.float64)
    queries, keys = _query_key_tokens(module, N)
    keep = _keep_keys(module, B, N)
    masked = torch.zeros(B, N, dtype=torch.bool)
    masked[:, keys] = ~keep
    rows = queries if isinstance(module, ClassAttention) else None
    x = x.requires_grad_()
    out = module(x, mask=keep[:, None, None, :])
    kept_rows = [out[b, rows if rows is not None else ~masked[b]]
                 for b in range(B)]
    sum(r.square().sum() for r in kept_rows).backward()
    assert x.grad[masked].abs().max() == 0
    assert x.grad[~masked].abs().min() > 0 or rows is not None
    x2 = torch.where(masked[..., None],
                     100 * torch.randn(B, N, 32, dtype=x.dtype), x)
    out2 = module(x2, mask=keep[:, None, None, :])
    for b in range(B):
        r = rows if rows is not None else ~masked[b]
        torch.testing.assert_close(out2[b, r], kept_rows[b], atol=1e-12,
                                   rtol=0)


@pytest.mark.parametrize('name', ATTENTIONS)
def test_attention_layers_reject_bad_masks(name):
    module = ATTENTIONS[name]()
    x = torch.randn(2, 9, 32)
    with pytest.raises(ValueError, match=r'4-D.*keep\[:, None, None, :\]'):
        module(x, mask=torch.ones(2, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match='bool keep-mask'):
        module(x, mask=torch.ones(2, 1, 1, 9, dtype=torch.int32))


# -------------------------------------- one class attention (CaiT + PCN)
def _heads(x, num_heads):
    B, N, C = x.shape
    return x.reshape(B, N, num_heads, C // num_heads).transpose(1, 2)


def _old_cait_class_attention(m, x, fused):
    """``ClassAttention.forward`` of CaiT before the merge (eval mode)."""
    B, _, C = x.shape
    q = _heads(m.q(x[:, :1]), m.num_heads)
    k, v = _heads(m.k(x), m.num_heads), _heads(m.v(x), m.num_heads)
    if fused:
        x_cls = F.scaled_dot_product_attention(q, k, v, dropout_p=0.)
    else:
        attn = (q * m.scale) @ k.transpose(-2, -1)
        x_cls = attn.softmax(dim=-1) @ v
    return m.proj(x_cls.transpose(1, 2).reshape(B, 1, C))


def _old_attention_pool(m, x, fused):
    """``AttentionPool.forward`` of PatchConvNet before the merge (eval)."""
    B, N, C = x.shape
    Q = m.num_queries
    kv = x if m.keys_include_queries else x[:, Q:]
    q = _heads(m.q(x[:, :Q]), m.num_heads)
    k, v = _heads(m.k(kv), m.num_heads), _heads(m.v(kv), m.num_heads)
    if fused:
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=0., scale=m.scale)
    else:
        attn = (q * m.scale) @ k.transpose(-2, -1)
        x = attn.softmax(dim=-1) @ v
    return m.proj(x.transpose(1, 2).reshape(B, Q, C))


CLASS_ATTENTION_KEYS = {
    f'{m}.{p}' for m in ('q', 'k', 'v', 'proj') for p in ('weight', 'bias')
}


@pytest.mark.parametrize('fused', [True, False])
def test_class_attention_equals_old_cait_class_attention(fused):
    """Bit for bit, at CaiT's head size (48)."""
    m = _randomize(ClassAttention(96, num_heads=2, fused_attn=fused)).eval()
    assert set(m.state_dict()) == CLASS_ATTENTION_KEYS
    x = torch.randn(3, 11, 96)
    assert torch.equal(m(x), _old_cait_class_attention(m, x, fused))


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('num_queries, include', [(1, True), (3, False),
                                                  (2, True)])
def test_class_attention_equals_old_attention_pool(num_queries, include,
                                                   fused):
    """Bit for bit, both query modes, one head as in PatchConvNet."""
    m = _randomize(
        ClassAttention(
            32, num_heads=1, num_queries=num_queries,
            keys_include_queries=include, fused_attn=fused)).eval()
    x = torch.randn(2, 8, 32)
    assert torch.equal(m(x), _old_attention_pool(m, x, fused))


def test_class_attention_arguments_and_errors():
    m = ClassAttention(16, num_heads=2, num_queries=2,
                       keys_include_queries=False, qkv_bias=False,
                       attn_drop=0.25, proj_drop=0.5, fused_attn=False)
    assert m.q.bias is None and m.k.bias is None and m.v.bias is None
    assert m.proj.bias is not None
    assert m.attn_drop.p == 0.25 and m.proj_drop.p == 0.5
    assert m.num_heads == 2 and not m.fused_attn
    assert ClassAttention(16).num_heads == 8
    x = torch.randn(4, 6, 16)
    assert m(x).shape == (4, 2, 16)
    # the query tokens are not keys: changing the other query changes
    # nothing for query 0 ...
    x2 = x.clone()
    x2[:, 1] += 1
    torch.testing.assert_close(m.eval()(x2)[:, 0], m(x)[:, 0])
    # ... but they are keys with keys_include_queries
    m.keys_include_queries = True
    assert not torch.allclose(m(x2)[:, 0], m(x)[:, 0])
    m.train()
    for fused in (True, False):
        m.fused_attn = fused
        assert not torch.allclose(m(x), m(x))  # dropout in training
    with pytest.raises(ValueError, match=r'dim \(10\).*num_heads \(4\)'):
        ClassAttention(10, num_heads=4)
    with pytest.raises(ValueError, match='num_queries must be >= 1'):
        ClassAttention(8, num_queries=0)
    with pytest.raises(ValueError, match=r'more than num_queries \(2\)'):
        ClassAttention(8, num_queries=2)(torch.randn(1, 2, 8))


BLOCK_KEYS = {
    f'{m}.{p}'
    for m in ('norm1', 'attn.q', 'attn.k', 'attn.v', 'attn.proj', 'norm2',
              'mlp.fc1', 'mlp.fc2') for p in ('weight', 'bias')
} | {'gamma_1', 'gamma_2'}


def _old_class_block(block, x, x_cls, old_attn, fused):
    """CaiT's ``ClassAttentionBlock`` / PatchConvNet's ``AggregationBlock``
    forward before the merge (eval mode, no drop path)."""
    u = torch.cat((x_cls, x), dim=1)
    x_cls = x_cls + block.gamma_1 * old_attn(block.attn, block.norm1(u), fused)
    return x_cls + block.gamma_2 * block.mlp(block.norm2(x_cls))


@pytest.mark.parametrize('fused', [True, False])
def test_class_attention_block_equals_old_cait_block(fused):
    block = ClassAttentionBlock(96, 2, mlp_ratio=4., init_values=1e-5,
                                fused_attn=fused)
    assert set(block.state_dict()) == BLOCK_KEYS
    assert block.mlp.fc1.out_features == 384 and torch.all(
        block.gamma_1 == 1e-5)
    _randomize(block).eval()
    x, x_cls = torch.randn(2, 10, 96), torch.randn(2, 1, 96)
    ref = _old_class_block(block, x, x_cls, _old_cait_class_attention, fused)
    assert torch.equal(block(x, x_cls), ref)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('num_cls', [1, 3])
def test_class_attention_block_equals_old_aggregation_block(num_cls, fused):
    """PatchConvNet: one head, ``int(dim * mlp_ratio)`` hidden features,
    several class tokens attend to the patches only."""
    dim, mlp_ratio = 32, 3.
    block = ClassAttentionBlock(
        dim, 1, mlp_hidden_features=int(dim * mlp_ratio),
        num_queries=num_cls, keys_include_queries=num_cls == 1,
        init_values=1e-6, fused_attn=fused)
    assert set(block.state_dict()) == BLOCK_KEYS
    assert block.attn.keys_include_queries == (num_cls == 1)
    _randomize(block).eval()
    x, x_cls = torch.randn(2, 12, dim), torch.randn(2, num_cls, dim)
    ref = _old_class_block(block, x, x_cls, _old_attention_pool, fused)
    assert torch.equal(block(x, x_cls), ref)


def test_class_attention_block_arguments():
    # round (CaiT) by default, any hidden size (PatchConvNet's int) on demand
    assert ClassAttentionBlock(3, 1, mlp_ratio=2.9).mlp.fc1.out_features == 9
    assert ClassAttentionBlock(
        3, 1, mlp_ratio=2.9,
        mlp_hidden_features=int(3 * 2.9)).mlp.fc1.out_features == 8
    with pytest.raises(ValueError, match='at least one hidden feature'):
        ClassAttentionBlock(4, 1, mlp_ratio=0.1)
    norms = []

    def norm_layer(d):
        norms.append(nn.LayerNorm(d, eps=1e-3))
        return norms[-1]

    block = ClassAttentionBlock(
        16, 4, mlp_ratio=2., num_queries=2, keys_include_queries=False,
        qkv_bias=False, drop=0.1, attn_drop=0.15, drop_path=0.2,
        init_values=0.3, act_layer=nn.ReLU, norm_layer=norm_layer,
        fused_attn=False)
    assert block.norm1 is norms[0] and block.norm2 is norms[1]
    assert isinstance(block.mlp.act, nn.ReLU)
    assert block.attn.num_heads == 4 and block.attn.q.bias is None
    assert block.attn.num_queries == 2
    assert not block.attn.keys_include_queries and not block.attn.fused_attn
    assert block.attn.attn_drop.p == 0.15 and block.attn.proj_drop.p == 0.1
    assert block.mlp.drop.p == 0.1
    assert isinstance(block.drop_path, DropPath)
    assert block.drop_path.drop_prob == 0.2
    assert torch.all(block.gamma_1 == 0.3) and torch.all(block.gamma_2 == 0.3)
    assert isinstance(ClassAttentionBlock(16, 2).drop_path, nn.Identity)
    # drop path: in training some samples keep only the residual
    block = ClassAttentionBlock(16, 4, drop_path=0.5, init_values=1.)
    x, x_cls = torch.randn(64, 5, 16), torch.randn(64, 1, 16)
    torch.manual_seed(0)
    out = block.train()(x, x_cls)
    same = (out == x_cls).flatten(1).all(1)
    assert 0 < same.sum() < 64
    with pytest.raises(ValueError, match=r'built for 1 class token.*'
                       r'\(64, 2, 16\)'):
        block(x, torch.randn(64, 2, 16))


@pytest.mark.parametrize('fused', [True, False])
def test_class_attention_block_mask(fused):
    """A keep-mask over the keys == the block on the kept patches."""
    block = _randomize(ClassAttentionBlock(16, 2, fused_attn=fused))
    block.double().eval()
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    x_cls = torch.randn(2, 1, 16, dtype=torch.float64)
    keep = torch.ones(2, 8, dtype=torch.bool)
    keep[0, [2, 5]] = False
    keep[1, 7] = False
    out = block(x, x_cls, mask=keep[:, None, None, :])
    for b in range(2):
        kept = keep[b, 1:].nonzero()[:, 0]
        ref = block(x[b:b + 1, kept], x_cls[b:b + 1])
        torch.testing.assert_close(out[b:b + 1], ref, atol=1e-12, rtol=0)
    assert not torch.allclose(out, block(x, x_cls))


# ------------------------------------------------------------ pluggable Block
DEIT_BLOCK_KEYS = {
    f'{m}.{p}'
    for m in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1',
              'mlp.fc2') for p in ('weight', 'bias')
} | {'ls1.gamma', 'ls2.gamma'}


def test_block_deit_keys_and_formula():
    block = Block(16, 2, init_values=0.1, drop_path=0.1)
    assert set(block.state_dict()) == DEIT_BLOCK_KEYS
    assert isinstance(block.attn, Attention) and isinstance(block.mlp, Mlp)
    assert isinstance(block.ls1, LayerScale) and block.ls1 is not block.ls2
    assert isinstance(block.drop_path1, DropPath)
    _randomize(block).eval()
    x = torch.randn(2, 5, 16)
    y = x + block.ls1.gamma * block.attn(block.norm1(x))
    y = y + block.ls2.gamma * block.mlp(block.norm2(y))
    assert torch.equal(block(x), y)


class _CaiTBlockRef(nn.Module):
    """``CaiTBlock`` of ``models/backbones/cait.py`` before issue 7."""

    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, drop, attn_drop,
                 drop_path, init_values, norm_layer, fused_attn):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = TalkingHeadsAttention(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop,
            proj_drop=drop, fused_attn=fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, hidden_features=round(dim * mlp_ratio), drop=drop)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma_2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self, x):
        x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
        x = x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))
        return x


@pytest.mark.parametrize('train', [False, True])
@pytest.mark.parametrize('fused', [True, False])
def test_block_with_talking_heads_is_cait_block(fused, train):
    """``Block(attn_layer=TalkingHeadsAttention, init_values=v)`` loads
    CaiTBlock's weights (``gamma_1/2`` -> ``ls1/2.gamma``) and gives its
    output bit for bit, also in training (dropout, drop path: same random
    draws in the same order)."""
    args = dict(mlp_ratio=4., qkv_bias=True, drop=0.1 * train,
                attn_drop=0.2 * train, drop_path=0.3 * train,
                init_values=1e-5, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                fused_attn=fused)
    ref = _randomize(_CaiTBlockRef(48, 4, **args))
    block = Block(48, 4, attn_layer=TalkingHeadsAttention, **args)
    assert torch.all(block.ls1.gamma == 1e-5)
    renamed = {{'gamma_1': 'ls1.gamma', 'gamma_2': 'ls2.gamma'}.get(k, k): v
               for k, v in ref.state_dict().items()}
    block.load_state_dict(renamed)  # strict: the same keys otherwise
    ref.train(train)
    block.train(train)
    x = torch.randn(8, 10, 48)
    torch.manual_seed(3)
    expected = ref(x)
    torch.manual_seed(3)
    assert torch.equal(block(x), expected)


class _Recorder(nn.Module):
    """Stub sub-layer that records how it was built and called."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.args, self.kwargs, self.calls = args, kwargs, []
        self.scale = nn.Parameter(torch.tensor(float(len(args) + 2)))

    def forward(self, x, **kwargs):
        self.calls.append(kwargs)
        return x * self.scale


def test_block_pluggable_layers_receive_their_arguments():
    norms = []

    def norm_layer(d):
        norms.append(nn.LayerNorm(d, eps=1e-3))
        return norms[-1]

    block = Block(
        16, 2, mlp_ratio=2.97, qkv_bias=False, drop=0.1, attn_drop=0.2,
        drop_path=0.3, init_values=0.4, act_layer=nn.ReLU,
        norm_layer=norm_layer, fused_attn=False, attn_layer=_Recorder,
        mlp_layer=_Recorder, ls_layer=_Recorder)
    assert block.attn.args == (16, ) and block.attn.kwargs == dict(
        num_heads=2, qkv_bias=False, attn_drop=0.2, proj_drop=0.1,
        fused_attn=False)
    assert block.mlp.args == () and block.mlp.kwargs == dict(
        in_features=16, hidden_features=48, act_layer=nn.ReLU, drop=0.1)
    for ls in (block.ls1, block.ls2):
        assert ls.args == (16, ) and ls.kwargs == dict(init_values=0.4)
    assert block.ls1 is not block.ls2
    assert block.norm1 is norms[0] and block.norm2 is norms[1]
    assert block.drop_path1.drop_prob == block.drop_path2.drop_prob == 0.3

    # the residual wiring, with every stub scaling by its own factor
    block.eval()
    x = torch.randn(2, 5, 16)
    y = x + block.ls1.scale * block.attn.scale * block.norm1(x)
    y = y + block.ls2.scale * block.mlp.scale * block.norm2(y)
    torch.testing.assert_close(block(x), y)
    assert block.attn.calls[-1] == {}  # no mask: attn(x) alone
    mask = torch.ones(2, 1, 1, 5, dtype=torch.bool)
    block(x, mask=mask)
    assert block.attn.calls[-1]['mask'] is mask


def test_block_arguments_with_default_layers():
    block = Block(16, 4, mlp_ratio=2.97, qkv_bias=False, drop=0.1,
                  attn_drop=0.2, act_layer=nn.ReLU, fused_attn=False)
    assert block.attn.num_heads == 4 and block.attn.qkv.bias is None
    assert block.attn.attn_drop.p == 0.2 and block.attn.proj_drop.p == 0.1
    assert not block.attn.fused_attn
    # round(47.52), not int()
    assert block.mlp.fc1.out_features == 48 and block.mlp.drop.p == 0.1
    assert isinstance(block.mlp.act, nn.ReLU)
    assert isinstance(block.norm1, nn.LayerNorm) and block.norm1.eps == 1e-6
    # init_values None or 0: no layer scale, ls_layer never called
    for init_values in (None, 0.):
        plain = Block(16, 2, init_values=init_values, ls_layer=_Recorder)
        assert isinstance(plain.ls1, nn.Identity)
        assert isinstance(plain.ls2, nn.Identity)
    assert isinstance(Block(16, 2).drop_path2, nn.Identity)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('attn_layer', [Attention, TalkingHeadsAttention])
def test_block_keep_mask_equals_dropping_tokens(attn_layer, fused):
    block = _randomize(Block(16, 2, init_values=0.5, attn_layer=attn_layer,
                             fused_attn=fused)).double().eval()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    keep = torch.rand(2, 9, generator=torch.Generator().manual_seed(0)) > .5
    keep[:, 0] = True
    keep[0, 1] = False
    out = block(x, mask=keep[:, None, None, :])
    for b in range(2):
        ref = block(x[b:b + 1, keep[b]])
        torch.testing.assert_close(out[b, keep[b]], ref[0], atol=1e-12,
                                   rtol=0)


# ------------------------------------------------------------ package rules
def test_layers_package_is_pure_torch():
    """``mmvitplug.layers`` imports torch, torchvision (its ops) and the
    standard library only."""
    import mmvitplug.layers
    allowed = {'torch', 'torchvision', 'typing', 'functools', 'math',
               'collections', 'itertools', 'numbers', 'warnings',
               'contextlib', 'fnmatch'}
    root = osp.dirname(mmvitplug.layers.__file__)
    files = sorted(glob.glob(osp.join(root, '*.py')))
    assert len(files) > 10
    for path in files:
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split('.')[0] in allowed, \
                    f'{osp.basename(path)} imports {name}'


def test_ln2d_registered_outside_layers():
    from mmvitplug.models import norms
    from mmvitplug.registry import MODELS
    assert MODELS.get('LN2d') is LayerNorm2d
    assert norms.LayerNorm2d is LayerNorm2d


def test_masked_softmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5)
    assert torch.equal(masked_softmax(logits, None), logits.softmax(-1))
    keep = torch.rand(2, 1, 4, 5) > 0.5
    keep[..., 0] = True
    keep[1, 0, 2] = False  # a row without keys
    w = masked_softmax(logits, keep)
    assert torch.equal(w[1, :, 2], torch.zeros(3, 5))
    assert (w.masked_select(~keep.expand_as(w)) == 0).all()
    rows = keep.any(-1, keepdim=True).expand(2, 3, 4, 1)
    torch.testing.assert_close(w.sum(-1, keepdim=True), rows.float())
    bias = torch.randn(1, 3, 1, 5)
    torch.testing.assert_close(masked_softmax(logits, bias),
                               (logits + bias).softmax(-1))
    with pytest.raises(ValueError, match='does not broadcast'):
        check_mask(bias, (2, 3, 4, 6), 'attn_bias')
    with pytest.raises(ValueError, match='^attn_bias of shape'):
        check_mask(bias[0], (2, 3, 4, 5), 'attn_bias')


@pytest.mark.parametrize('name', ATTENTIONS)
def test_record_attention_records_the_weights_without_changing_output(name):
    """Inside ``record_attention`` a fused layer takes its explicit path and
    records the weights that multiply its values, once per call; the output
    is the fused one."""
    module = _randomize(ATTENTIONS[name]()).double().eval()
    module.fused_attn = True
    B, N = 2, 9
    queries, keys = _query_key_tokens(module, N)
    torch.manual_seed(0)
    x = torch.randn(B, N, 32, dtype=torch.float64)
    fused = module(x)
    with record_attention() as recorded:
        assert recording_attention()
        out = module(x)
    assert not recording_attention()
    torch.testing.assert_close(out, fused, atol=1e-10, rtol=0)
    assert len(recorded) == 1
    weights = recorded[0]
    assert weights.shape == (B, module.num_heads, len(queries), len(keys))
    assert not weights.requires_grad
    # the recorded weights are the explicit path's
    if isinstance(module, TalkingHeadsAttention):
        qkv = module.qkv(x).reshape(B, N, 3, module.num_heads, -1)
        q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        expected = module._attn_explicit(q, k, None)
    else:
        captured = []
        real_attend = attend

        def spy(q, k, v, **kwargs):
            captured.append((q, k, kwargs['scale']))
            return real_attend(q, k, v, **kwargs)

        import mmvitplug.layers.attention as attention_module
        import mmvitplug.layers.class_attention as class_module
        target = class_module if isinstance(module, ClassAttention) \
            else attention_module
        setattr(target, 'attend', spy)
        try:
            module(x)
        finally:
            setattr(target, 'attend', real_attend)
        q, k, scale = captured[0]
        expected = ((q * scale) @ k.transpose(-2, -1)).softmax(-1)
        assert torch.allclose(weights.sum(-1), torch.ones(()).double())
    torch.testing.assert_close(weights, expected, atol=1e-12, rtol=0)
    # outside the context nothing more is recorded
    module(x)
    assert len(recorded) == 1


def test_record_attention_nests_and_leaves_the_fused_path_alone(
        monkeypatch):
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(
        F, 'scaled_dot_product_attention',
        lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    q, k, v = torch.randn(3, 1, 2, 4, 8).unbind(0)
    attend(q, k, v)  # no recording: the fused kernel
    assert len(calls) == 1
    with record_attention() as outer:
        attend(q, k, v)
        with record_attention() as inner:
            attend(q, k, v)
            attend(q[:, :, :1], k, v)
        attend(q, k, v)
    assert len(calls) == 1  # explicit path inside the contexts
    assert [w.shape[2] for w in inner] == [4, 1]
    assert len(outer) == 2  # only the innermost context records
    record_weights(torch.ones(1))  # outside: a no-op
    assert len(outer) == 2 and len(inner) == 2


def test_sobel_is_the_grey_level_gradient():
    # a vertical step (0 on the left, 3 on the right; channels whose mean
    # is the step) and a horizontal one
    step = torch.zeros(1, 3, 4, 4)
    step[:, :, :, 2:] = torch.tensor([1., 3., 5.])[:, None, None]
    out = Sobel()(step)
    assert out.shape == (1, 2, 4, 4)
    # horizontal derivative [[1, 0, -1], [2, 0, -2], [1, 0, -1]]: -4 * 3
    # beside the step inside, -3 * 3 on the top / bottom rows (zero
    # padding), 3 * 3 / 4 * 3 at the right border (the padded zeros)
    gx = torch.tensor([[0., -9., -9., 9.], [0., -12., -12., 12.],
                       [0., -12., -12., 12.], [0., -9., -9., 9.]])
    torch.testing.assert_close(out[0, 0], gx)
    # vertical derivative: only the zero padding at the top and bottom
    gy = torch.tensor([[0., -3., -9., -9.], [0., 0., 0., 0.],
                       [0., 0., 0., 0.], [0., 3., 9., 9.]])
    torch.testing.assert_close(out[0, 1], gy)
    # the transposed image swaps the two derivatives
    turned = Sobel()(step.transpose(-1, -2))
    torch.testing.assert_close(turned[0, 1], gx.t())
    assert not list(Sobel().parameters()) and not Sobel().state_dict()
    with pytest.raises(ValueError, match=r'Sobel takes images \(B, C, H, '
                       r'W\), got shape \(3, 4, 4\)'):
        Sobel()(step[0])
