# Copyright (c) mmvitplug contributors.
"""HAT-Net: golden parity with the official code, H-MHSA at any size,
parameter counts, errors.

``tests/data/hatnet_golden.pt`` was produced once from the official code
(yun-liu/HAT-Net ``HAT_Net.py``) in a scratch environment: a tiny HAT-Net
(8 / 16 / 24 / 32 channels, head_dim 8, depths 1 / 1 / 2 / 1, grid sizes
4 / 2 / 2 / 1, pooling 4 / 2 / 2 / 1, depth-wise kernels 5 / 3 / 3 / 3)
with randomised norms and biases; two 64x64 images, their logits, each
stage's output, and the parameter counts of HAT_Net_tiny / small / medium
/ large.
"""
import os.path as osp

import pytest
import torch

from mmvitplug.converters import convert_hatnet, get_converter
from mmvitplug.models.backbones import HATNet
from mmvitplug.models.backbones.hatnet import HAttention
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'hatnet_golden.pt')
GOLDEN_ARCH = dict(embed_dims=[8, 16, 24, 32], head_dim=8,
                   expansions=[8, 8, 4, 4], grid_sizes=[4, 2, 2, 1],
                   ds_ratios=[4, 2, 2, 1], depths=[1, 1, 2, 1],
                   kernel_sizes=[5, 3, 3, 3])
ALL = (0, 1, 2, 3)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, fused_attn):
    from mmpretrain.registry import MODELS
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.HATNet', arch=GOLDEN_ARCH,
                          fused_attn=fused_attn),
            neck=None,
            head=dict(type='mmvitplug.DropoutLinearClsHead', num_classes=10,
                      in_channels=32, dropout_rate=0.2))).eval()
    converted = convert_hatnet({'model': golden['state_dict']})
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        logits = model(golden['x'], mode='tensor')
    assert (logits - golden['logits']).abs().max() <= 1e-4


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_stages(golden, fused_attn):
    model = HATNet(GOLDEN_ARCH, out_type='featmap', out_indices=ALL,
                   fused_attn=fused_attn).eval()
    model.load_state_dict(backbone_state(convert_hatnet(
        golden['state_dict'])))
    with torch.no_grad():
        outs = model(golden['x'])
    for out, ref in zip(outs, golden['stages']):
        assert out.shape == ref.shape and out.is_contiguous()
        assert (out - ref).abs().max() <= 1e-4


def local_reference(attn, qkv):
    """Attention inside each g x g cell over its valid tokens only, cell
    by cell (cells at the right / bottom sides may be smaller)."""
    B, _, H, W = qkv.shape
    g, heads, hd = attn.grid_size, attn.num_heads, attn.head_dim
    q, k, v = qkv.reshape(B, 3, heads, hd, H, W).unbind(1)
    out = torch.zeros(B, heads, hd, H, W)
    for i in range(0, H, g):
        for j in range(0, W, g):
            cell = (Ellipsis, slice(i, i + g), slice(j, j + g))
            h, w = q[cell].shape[-2:]

            def tokens(t):
                return t[cell].flatten(-2).transpose(-2, -1)

            weights = (tokens(q) * attn.scale) @ tokens(k).transpose(-2, -1)
            res = weights.softmax(-1) @ tokens(v)  # B heads n hd
            out[cell] = res.transpose(-2, -1).reshape(B, heads, hd, h, w)
    return out.reshape(B, heads * hd, H, W)


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('size', [(8, 12), (7, 10), (5, 3)])
def test_local_attention_masks_the_padding(size, fused_attn):
    """Sides the grid does not divide: padded, padded keys masked, padded
    queries cropped = attention inside the (smaller) edge cells."""
    torch.manual_seed(0)
    attn = HAttention(16, 4, grid_size=4, ds_ratio=2, fused_attn=fused_attn)
    qkv = torch.randn(2, 48, *size)
    expected = local_reference(attn, qkv)
    assert torch.allclose(attn.local(qkv), expected, atol=1e-5)


def test_pooling_averages_the_valid_tokens_of_edge_cells():
    attn = HAttention(4, 4, grid_size=2, ds_ratio=2)
    x = torch.arange(9.).reshape(1, 1, 3, 3)
    assert attn.avg_pool(x).tolist() == [[[[2., 3.5], [6.5, 8.]]]]


def test_fused_and_explicit_gradients_agree(golden):
    grads = []
    for fused in (True, False):
        model = HATNet(GOLDEN_ARCH, fused_attn=fused).train()
        model.load_state_dict(backbone_state(convert_hatnet(
            golden['state_dict'])))
        model(golden['x'][:, :, :60, :52])[0].square().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        scale = grad.abs().max().clamp(min=1.)
        assert (grad - grads[1][name]).abs().max() <= 1e-4 * scale, name


def test_converter_is_registered_and_drops_the_unused_norm(golden):
    assert get_converter('HATNet').recognises(golden['state_dict'])
    converted = convert_hatnet(golden['state_dict'])
    assert 'backbone.stages.1.0.conv.weight' in converted  # ds2
    assert 'backbone.stages.2.2.attn.kv.weight' in converted
    assert 'backbone.stages.0.0.conv.conv3.1.bias' in converted
    assert 'head.fc.weight' in converted
    proj_norms = [k for k in golden['state_dict'] if 'proj_norm' in k]
    assert len(proj_norms) == 2 * 5  # weight and bias of every block
    assert len(converted) == len(golden['state_dict']) - len(proj_norms)
    with pytest.raises(KeyError, match=r"1 key\(s\) are not in the "
                       r"official HAT-Net layout: \['blocks.0.0.attn.x'\]"):
        convert_hatnet({'blocks.0.0.attn.x': torch.ones(1)})


@pytest.mark.parametrize('arch, official', [
    ('hatnet-t', 'HAT_Net_tiny'),
    ('hatnet-s', 'HAT_Net_small'),
    ('hatnet-m', 'HAT_Net_medium'),
    ('hatnet-l', 'HAT_Net_large'),
])
def test_param_counts_equal_official(golden, arch, official):
    """Backbone + a 1000-class linear head + the official unused
    ``attn.proj_norm`` of every block."""
    with torch.device('meta'):
        model = HATNet(arch)
    dims, depths = model.embed_dims, model.depths
    head = dims[-1] * 1000 + 1000
    proj_norms = sum(2 * d * n for d, n in zip(dims, depths))
    total = sum(p.numel() for p in model.parameters()) + head + proj_norms
    assert round(total / 1e6, 3) == golden['num_params'][official]


@pytest.mark.parametrize('size', [(64, 64), (97, 130), (32, 45), (224, 256)])
def test_any_input_size_gives_four_maps(size):
    torch.manual_seed(0)
    model = HATNet(GOLDEN_ARCH, out_type='featmap', out_indices=ALL).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    h, w = size
    for i, out in enumerate(outs):
        h, w = -(-h // (4 if i == 0 else 2)), -(-w // (4 if i == 0 else 2))
        assert out.shape == (1, GOLDEN_ARCH['embed_dims'][i], h, w)
        assert torch.isfinite(out).all()


def test_bad_input_and_arch():
    model = HATNet(GOLDEN_ARCH)
    with pytest.raises(ValueError, match='HATNet needs images of at least '
                       '32x32'):
        model(torch.randn(1, 3, 28, 64))
    with pytest.raises(ValueError, match='arch grid_sizes has 3 entries '
                       'but depths has 4'):
        HATNet(dict(GOLDEN_ARCH, grid_sizes=[4, 2, 1]))
    with pytest.raises(ValueError, match=r'HATNet has 4 stages: arch depths '
                       r'needs 4 entries, got \[1, 1, 2\]'):
        HATNet(dict(GOLDEN_ARCH, depths=[1, 1, 2]))
    with pytest.raises(ValueError, match=r'head_dim \(8\) must divide the '
                       r'channels \(12\)'):
        HATNet(dict(GOLDEN_ARCH, embed_dims=[12, 16, 24, 32]))
    with pytest.raises(ValueError, match="Unknown arch 'hatnet-x'"):
        HATNet('hatnet-x')


def test_arch_settings_reach_the_blocks():
    model = HATNet('hatnet-m', drop_rate=0.1)
    block = model.stages[2][1]
    assert block.attn.grid_size == 7 and block.attn.num_heads == 5
    assert block.attn.avg_pool.kernel_size == 2
    assert block.conv.conv2[0].kernel_size == (5, 5)
    assert block.conv.conv1[1].out_channels == 320 * 4
    assert block.attn.drop.p == 0.1 and block.conv.drop.p == 0.1
    last = model.stages[3][1].attn  # global only
    assert last.grid_size == 1 and not hasattr(last, 'q')
