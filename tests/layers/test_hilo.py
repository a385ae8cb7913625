# Copyright (c) mmvitplug contributors.
"""HiLoAttention (LITv2): official golden outputs, fused = explicit,
the head split, padding and errors."""
import os.path as osp

import pytest
import torch

from mmvitplug.layers import HiLoAttention, record_attention

GOLDEN = osp.join(osp.dirname(osp.dirname(__file__)), 'data',
                  'hilo_golden.pt')


def _golden_cases():
    return torch.load(GOLDEN, map_location='cpu')['cases']


@pytest.mark.parametrize('index', range(7))
@pytest.mark.parametrize('fused', [True, False])
def test_hilo_matches_the_official_code(index, fused):
    """Outputs of ziplab/LITv2's HiLo (detection backbone: pads grids that
    are not multiples of the window; = hilo.py on divisible grids) for
    several head splits and windows."""
    case = _golden_cases()[index]
    dim, heads, ws, alpha, H, W = case['case']
    attn = HiLoAttention(dim, heads, window_size=ws, alpha=alpha,
                         qkv_bias=True, fused_attn=fused).eval()
    attn.load_state_dict(case['state_dict'])  # the official names
    with torch.no_grad():
        y = attn(case['x'], (H, W))
    torch.testing.assert_close(y, case['y'], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('heads,alpha,ws,lofi,hifi', [
    (12, 0.9, 2, 10, 2),  # LITv2-S stage 3: 10 Lo-Fi / 2 Hi-Fi heads
    (4, 0.5, 2, 2, 2),
    (4, 0.0, 2, 0, 4),
    (4, 1.0, 2, 4, 0),
    (24, 0.9, 1, 24, 0),  # window 1: plain MSA, all heads Lo-Fi
])
def test_head_split(heads, alpha, ws, lofi, hifi):
    attn = HiLoAttention(heads * 4, heads, window_size=ws, alpha=alpha)
    assert (attn.l_heads, attn.h_heads) == (lofi, hifi)
    assert hasattr(attn, 'l_q') == (lofi > 0)
    assert hasattr(attn, 'h_qkv') == (hifi > 0)
    assert f'lofi_heads={lofi}, hifi_heads={hifi}' in repr(attn)


def test_window_one_is_plain_multi_head_attention():
    torch.manual_seed(0)
    attn = HiLoAttention(16, 4, window_size=1, alpha=0.9, qkv_bias=True)
    x = torch.randn(2, 12, 16)
    q = attn.l_q(x).view(2, 12, 4, 4).transpose(1, 2)
    k, v = attn.l_kv(x).view(2, 12, 2, 4, 4).permute(2, 0, 3, 1, 4)
    w = (q @ k.transpose(-2, -1) * 0.5).softmax(-1)
    expected = attn.l_proj((w @ v).transpose(1, 2).reshape(2, 12, 16))
    torch.testing.assert_close(attn(x, (3, 4)), expected)


def test_hifi_attends_inside_windows_only():
    """Changing one 2x2 window's tokens changes only that window's Hi-Fi
    output; the Lo-Fi half sees the pooled grid, so it changes everywhere.
    """
    torch.manual_seed(0)
    attn = HiLoAttention(16, 4, window_size=2, alpha=0.5).eval()
    x = torch.randn(1, 4, 6, 16)
    y = attn(x.flatten(1, 2), (4, 6)).view(1, 4, 6, 16)
    x2 = x.clone()
    x2[:, 0:2, 2:4] += 1.
    y2 = attn(x2.flatten(1, 2), (4, 6)).view(1, 4, 6, 16)
    changed = (y2 - y).abs().amax(-1) > 1e-6  # (1, H, W)
    hifi_changed = (y2 - y)[..., :8].abs().amax(-1) > 1e-6
    window = torch.zeros(1, 4, 6, dtype=torch.bool)
    window[:, 0:2, 2:4] = True
    assert torch.equal(hifi_changed, window)
    assert changed.all()


def test_padding_crops_back_to_the_grid():
    torch.manual_seed(0)
    attn = HiLoAttention(16, 4, window_size=2, alpha=0.5).eval()
    x = torch.randn(1, 5 * 3, 16)
    y = attn(x, (5, 3))
    assert y.shape == (1, 15, 16)
    # the same as running the padded grid and cropping: the padded tokens
    # are zeros that the Lo-Fi pooling averages in
    padded = torch.zeros(1, 6, 4, 16)
    padded[:, :5, :3] = x.view(1, 5, 3, 16)
    full = attn(padded.flatten(1, 2), (6, 4)).view(1, 6, 4, 16)
    torch.testing.assert_close(y, full[:, :5, :3].reshape(1, 15, 16))


def test_dropouts_act_in_training_only():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 16)
    for kwargs in (dict(attn_drop=0.5), dict(proj_drop=0.5)):
        attn = HiLoAttention(16, 4, window_size=2, **kwargs)
        eval_out = attn.eval()(x, (4, 4))
        torch.testing.assert_close(attn(x, (4, 4)), eval_out)
        assert not torch.allclose(attn.train()(x, (4, 4)), eval_out)


def test_explicit_path_records_the_weights():
    attn = HiLoAttention(16, 4, window_size=2, alpha=0.5, fused_attn=True)
    x = torch.randn(1, 16, 16)
    with record_attention() as recorded:
        attn(x, (4, 4))
    # Hi-Fi: 4 windows of 4 tokens x 2 heads; Lo-Fi: 16 queries, 4 keys
    shapes = [tuple(w.shape) for w in recorded]
    assert shapes == [(4, 2, 4, 4), (1, 2, 16, 4)]


@pytest.mark.parametrize('kwargs,match', [
    (dict(dim=30, num_heads=4), 'dim 30 must be a multiple of num_heads 4'),
    (dict(dim=16, num_heads=4, window_size=0), 'window_size must be >= 1'),
    (dict(dim=16, num_heads=4, alpha=1.5), r'alpha .* must be in \[0, 1\]'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HiLoAttention(**kwargs)


def test_bad_input_names_the_expected_shape():
    attn = HiLoAttention(16, 4)
    with pytest.raises(ValueError, match=r'takes tokens \(B, H \* W, 16\) '
                       r'of the grid 3x3, got shape \(1, 16, 16\)'):
        attn(torch.randn(1, 16, 16), (3, 3))


def test_qk_scale_and_qkv_bias():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 16)
    default = HiLoAttention(16, 4, window_size=1, qkv_bias=True)
    scaled = HiLoAttention(16, 4, window_size=1, qkv_bias=True, qk_scale=1.)
    scaled.load_state_dict(default.state_dict())
    assert default.scale == 0.5 and scaled.scale == 1.
    q = default.l_q(x).view(1, 16, 4, 4).transpose(1, 2)
    k, v = default.l_kv(x).view(1, 16, 2, 4, 4).permute(2, 0, 3, 1, 4)
    w = (q @ k.transpose(-2, -1)).softmax(-1)  # scale 1
    expected = default.l_proj((w @ v).transpose(1, 2).reshape(1, 16, 16))
    torch.testing.assert_close(scaled(x, (4, 4)), expected)
    assert not torch.allclose(default(x, (4, 4)), expected)
    no_bias = HiLoAttention(16, 4, window_size=2, alpha=0.5, qkv_bias=False)
    for layer in (no_bias.l_q, no_bias.l_kv, no_bias.h_qkv):
        assert layer.bias is None
    assert no_bias.l_proj.bias is not None  # output projections keep theirs
