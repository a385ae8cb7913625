# Copyright (c) mmvitplug contributors.
import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import (Attention, Block, DropPath, LayerNorm2d,
                              LayerScale, Mlp, PatchEmbed, drop_path,
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
