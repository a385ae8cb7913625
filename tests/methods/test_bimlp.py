# Copyright (c) mmvitplug contributors.
"""BiMLP (https://arxiv.org/abs/2212.14158): the binary primitives against
hand-computed values (XNOR weights sign x mean|W| per output channel, sign
activations and their clipped straight-through gradient, RPReLU, the
universal shortcut's tiling / group averaging, BOPs / FLOPs counting and
model bits), exactly two weight values per output channel in every binary
layer, the blocks wired as the official MindSpore code (its formulas
written out here: the MindSpore code cannot run, and there is no official
PyTorch code, so no golden file), the down-sampling's 'same' max pooling,
the backbone contract (stage maps, frozen stages, layer depths, gradient
checkpointing, pretrained loading), the full-precision twin, every argument
and error, and the configs' binary flag."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from mmvitplug.layers import (BinaryConv2d, DropPath, LearnableBias, RPReLU,
                              binarize_activation, binarize_weight, count_ops,
                              param_bits, sign_binary, universal_shortcut)
from mmvitplug.models.backbones import BiMLP
from mmvitplug.models.backbones.bimlp import (BiMLPBlock, BiMLPChannelMlp,
                                              BiMLPDownsample, BiMLPTokenMixer,
                                              BinaryUnit, max_pool_same)
from _builders import REPO_ROOT
from _contract import (check_pretrained_loads_once, check_with_cp_identical,
                       entry_depths, randomize, square_loss)

TINY = dict(depths=(1, 1, 2, 1), embed_dims=(8, 16, 24, 32),
            mlp_ratios=(2, 2, 2, 2))


def build(seed=0, init=True, **kwargs):
    kwargs.setdefault('arch', TINY)
    torch.manual_seed(seed)
    model = BiMLP(**kwargs)
    if init:
        model.init_weights()
    return model


def randomize_units(module, seed=0):
    """Non-trivial shifts, slopes, norms and branch weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if not name.endswith('conv.weight'):
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return module


# ------------------------------------------------------------ primitives
def test_binarize_weight_hand_values_and_gradient():
    w = torch.tensor([[0.5, -1.0, 0.0], [-2.0, 4.0, 3.0]]).view(2, 3, 1, 1)
    w.requires_grad_()
    q = binarize_weight(w)
    # mean|W| per output channel: 0.5 and 3; sign(0) = +1
    expected = torch.tensor([[0.5, -0.5, 0.5], [-3., 3., 3.]])
    assert torch.equal(q.detach().flatten(1), expected)
    # a depth-wise kernel (one input channel): the mean over the kernel
    dw = torch.tensor([1., -2., 3., 0.]).view(1, 1, 1, 4)
    assert torch.equal(binarize_weight(dw).flatten(),
                       torch.tensor([1.5, -1.5, 1.5, 1.5]))
    # straight through to W (the official XnorM backward), scale ungraded
    grad = torch.arange(6.).view(2, 3, 1, 1)
    (q * grad).sum().backward()
    assert torch.equal(w.grad, grad)


def test_binarize_activation_hand_values_and_clipped_ste():
    x = torch.tensor([-2., -1., -0.5, 0., 0.3, 1., 1.5], requires_grad=True)
    y = binarize_activation(x)
    assert torch.equal(y, torch.tensor([-1., -1., -1., 1., 1., 1., 1.]))
    (y * torch.arange(1., 8.)).sum().backward()
    # clipped identity: 1{|x| <= 1}
    assert torch.equal(x.grad, torch.tensor([0., 2., 3., 4., 5., 6., 0.]))
    assert torch.equal(sign_binary(torch.tensor([-0.1, 0., 2.])),
                       torch.tensor([-1., 1., 1.]))


def test_binary_conv_hand_values_and_full_precision_switch():
    conv = BinaryConv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1., -3.]).view(1, 2, 1, 1))
    x = torch.tensor([0.3, -0.7]).view(1, 2, 1, 1)
    # sign(x) = (1, -1); W_b = 2 * (1, -1): 2 + 2
    assert conv(x).item() == 4.
    assert 'binary=True' in repr(conv)
    fp = BinaryConv2d(2, 1, 1, bias=False, binary=False)
    fp.load_state_dict(conv.state_dict())
    assert fp(x).item() == pytest.approx(0.3 + 2.1)
    assert fp.binary_weight() is fp.weight
    with pytest.raises(TypeError, match='binary must be a bool'):
        BinaryConv2d(2, 1, 1, binary=1)


def test_binary_conv_gradients_reach_latent_weights_and_inputs():
    conv = BinaryConv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1., -3.]).view(1, 2, 1, 1))
    x = torch.tensor([0.3, -1.7]).view(1, 2, 1, 1).requires_grad_()
    conv(x).sum().backward()
    # d/dW = sign(x) (straight through the weight binarisation)
    assert torch.equal(conv.weight.grad.flatten(), torch.tensor([1., -1.]))
    # d/dx = W_b * 1{|x| <= 1}: 2 inside, 0 for the clipped -1.7
    assert torch.equal(x.grad.flatten(), torch.tensor([2., 0.]))


def test_learnable_bias_and_rprelu_hand_values():
    shift = LearnableBias(2)
    assert torch.equal(shift.bias, torch.zeros(1, 2, 1, 1))
    act = RPReLU(2)
    assert torch.equal(act.prelu.weight, torch.full((2, ), 0.25))
    with torch.no_grad():
        act.move1.bias.copy_(torch.tensor([0.5, -0.5]).view(1, 2, 1, 1))
        act.move2.bias.copy_(torch.tensor([0.1, 0.2]).view(1, 2, 1, 1))
        act.prelu.weight.copy_(torch.tensor([0.25, 0.5]))
    x = torch.tensor([[-1., 1.], [1., 0.]]).view(2, 2, 1, 1)
    # channel 0: (-1 + 0.5) * 0.25 + 0.1, (1 + 0.5) + 0.1
    # channel 1: (1 - 0.5) + 0.2, (0 - 0.5) * 0.5 + 0.2
    expected = torch.tensor([[-0.025, 0.7], [1.6, -0.05]]).view(2, 2, 1, 1)
    torch.testing.assert_close(act(x), expected)
    assert torch.equal(RPReLU(3, init=0.1).prelu.weight,
                       torch.full((3, ), 0.1))


def test_universal_shortcut_tiling_and_group_average():
    x = torch.arange(8.).view(1, 8, 1, 1)
    assert universal_shortcut(x, 8) is x
    # official Mlp: mnp.tile(x, (1, 4, 1, 1)) / (x[:, ::4] + ... ) / 4
    assert torch.equal(universal_shortcut(x, 16).flatten(),
                       torch.cat([torch.arange(8.)] * 2))
    assert torch.equal(universal_shortcut(x, 2).flatten(),
                       torch.tensor([1.5, 5.5]))
    official = (x[:, ::4] + x[:, 1::4] + x[:, 2::4] + x[:, 3::4]) / 4.0
    y = torch.randn(2, 32, 3, 3)
    official = (y[:, ::4] + y[:, 1::4] + y[:, 2::4] + y[:, 3::4]) / 4.0
    # PATM's mean of channel pairs: (x[:, ::2] + x[:, 1::2]) / 2
    pairs = (y[:, ::2] + y[:, 1::2]) / 2.0
    torch.testing.assert_close(universal_shortcut(y, 8), official)
    torch.testing.assert_close(universal_shortcut(y, 16), pairs)
    assert torch.equal(universal_shortcut(y[:, :4], 48),
                       y[:, :4].repeat(1, 12, 1, 1))
    with pytest.raises(ValueError, match='3 input channels and '
                       'out_channels=4'):
        universal_shortcut(torch.zeros(1, 3, 1, 1), 4)


def test_count_ops_and_param_bits_hand_values():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),  # 4 x 25 x 3 x 9 = 2700 FLOPs
        BinaryConv2d(4, 8, 1),  # 8 x 25 x 4 = 800 BOPs
        BinaryConv2d(8, 8, (1, 3), padding=(0, 1), groups=4,
                     bias=False),  # 8 x 25 x 2 x 3 = 1200 BOPs
        nn.Flatten(),
        nn.Linear(200, 10))  # 2000 FLOPs
    counts = count_ops(model, torch.randn(2, 3, 5, 5))
    assert counts == dict(bops=2000, flops=4700, ops=2000 / 64 + 4700)
    bits = param_bits(model)
    # binary weights: 32 + 48; 32-bit: conv 112, biases 8, linear 2010,
    # scales 8 + 8
    assert bits == dict(bits=80 + 32 * 2146, binary_params=80,
                        fp_params=2146)
    for m in model.modules():
        if isinstance(m, BinaryConv2d):
            m.binary = False
    assert count_ops(model, torch.randn(1, 3, 5, 5)) == dict(
        bops=0, flops=6700, ops=6700)
    assert param_bits(model)['bits'] == 32 * sum(
        p.numel() for p in model.parameters())


# ----------------------------------------------------------------- blocks
def test_every_binary_layer_holds_two_values_per_output_channel():
    model = randomize(build(binary=True)).eval()
    convs = [m for m in model.modules() if isinstance(m, BinaryConv2d)]
    # per block: 5 + 2 + 1 1x1 units in the mixer (reweight MLP: 2), 2 in
    # the MLP, 2 depth-wise units: 14
    assert len(convs) == 14 * 5
    for conv in convs:
        w = conv.binary_weight().detach().flatten(1)
        scale = conv.weight.detach().abs().flatten(1).mean(dim=1)
        signs = conv.weight.detach().flatten(1) >= 0
        for row, alpha, sign in zip(w, scale, signs):
            # the two values +-alpha (one if every latent weight of the
            # channel has one sign, as a 7-tap depth-wise kernel may)
            expected = torch.stack([-alpha, alpha])[sign.unique().long()]
            torch.testing.assert_close(row.unique(), expected)
    # the first layer, the down-sampling and the classifier: full precision
    assert not isinstance(model.patch_embed.proj, BinaryConv2d)
    assert not any(
        isinstance(m, BinaryConv2d)
        for stage in model.stages for layer in stage
        if isinstance(layer, BiMLPDownsample) for m in layer.modules())


def test_binary_unit_hand_wiring():
    unit = randomize_units(BinaryUnit(4, 4, binary=True)).eval()
    x = torch.randn(2, 4, 3, 3)
    moved = x + unit.move.bias
    conv = F.conv2d(sign_binary(moved), binarize_weight(unit.conv.weight))
    expected = unit.act(unit.norm(conv) + moved)
    torch.testing.assert_close(unit(x), expected)
    short = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(unit(x, short),
                               unit.act(unit.norm(conv) + short))
    # grouped 1x7 from 2C to C: the shortcut is the mean of channel pairs,
    # no activation (PATM's tfc_h)
    tfc = randomize_units(BinaryUnit(8, 4, (1, 7), 4, act=False)).eval()
    y = torch.randn(2, 8, 3, 5)
    moved = y + tfc.move.bias
    conv = F.conv2d(sign_binary(moved), binarize_weight(tfc.conv.weight),
                    padding=(0, 3), groups=4)
    torch.testing.assert_close(
        tfc(y), tfc.norm(conv) + (moved[:, ::2] + moved[:, 1::2]) / 2.0)
    assert isinstance(tfc.act, nn.Identity)


def test_channel_mlp_is_the_official_mlp():
    mlp = randomize_units(BiMLPChannelMlp(8, 32, 8)).eval()
    x = torch.randn(2, 8, 3, 3)
    # the official Mlp.construct, hidden // in == 4, out // hidden == 0
    inp = torch.tile(x, (1, 4, 1, 1))
    inp = mlp.shortcut_act(mlp.shortcut_norm(inp))
    h = mlp.fc1.conv(mlp.fc1.move(x))
    h = mlp.fc1.act(mlp.fc1.norm(h) + inp)
    inp = (h[:, ::4] + h[:, 1::4] + h[:, 2::4] + h[:, 3::4]) / 4.0
    out = mlp.fc2.act(mlp.fc2.norm(mlp.fc2.conv(mlp.fc2.move(h))) + inp)
    torch.testing.assert_close(mlp(x), out)
    with pytest.raises(ValueError, match='multiple or a divisor'):
        BiMLPChannelMlp(8, 12, 8)


def test_token_mixer_is_the_official_patm():
    dim = 8
    patm = randomize_units(BiMLPTokenMixer(dim)).eval()
    x = torch.randn(2, dim, 5, 4)

    def unit(u, t):  # act(norm(conv(t_in)) + t_in), t_in = move(t)
        t_in = u.move(t)
        return u.act(u.norm(u.conv(t_in)) + t_in)

    theta_h, theta_w = unit(patm.theta_h, x), unit(patm.theta_w, x)
    x_h, x_w = unit(patm.fc_h, x), unit(patm.fc_w, x)
    x_h = torch.cat([x_h * torch.cos(theta_h), x_h * torch.sin(theta_h)], 1)
    x_w = torch.cat([x_w * torch.cos(theta_w), x_w * torch.sin(theta_w)], 1)
    x_h, x_w = patm.tfc_h.move(x_h), patm.tfc_w.move(x_w)
    th = x_h[:, ::2] + x_h[:, 1::2]
    tw = x_w[:, ::2] + x_w[:, 1::2]
    h = patm.act_h(patm.tfc_h.norm(patm.tfc_h.conv(x_h)) + th / 2.0)
    w = patm.act_w(patm.tfc_w.norm(patm.tfc_w.conv(x_w)) + tw / 2.0)
    c = unit(patm.fc_c, x)
    a = F.adaptive_avg_pool2d(h + w + c + x, 1)
    a = patm.reweight(a).reshape(2, dim, 3).permute(2, 0, 1)
    a = F.softmax(a, dim=0).unsqueeze(-1).unsqueeze(-1)
    y = h * a[0] + w * a[1] + c * a[2] + x
    torch.testing.assert_close(patm(x), unit(patm.proj, y))
    with pytest.raises(ValueError, match='multiples of 4'):
        BiMLPTokenMixer(6)


def test_block_merges_branches_with_learnable_weights():
    block = randomize_units(BiMLPBlock(8, 2, dict(type='BN'))).eval()
    with torch.no_grad():
        block.weight.copy_(torch.tensor([0.2, 0.3]))
    x = torch.randn(2, 8, 4, 4)
    y = x + block.attn(block.norm1(x))
    mid = block.norm2(y)
    expected = y + 0.2 * block.sfc_h(mid) + 0.3 * block.sfc_w(mid) + \
        0.5 * block.mlp(mid)
    torch.testing.assert_close(block(x), expected)
    # zeros at first: the MLP branch alone
    assert torch.equal(BiMLPBlock(8, 2, dict(type='BN')).weight,
                       torch.zeros(2))


def test_max_pool_same_and_downsample():
    x = torch.arange(16.).view(1, 1, 4, 4)
    # k = 3 on 4 pixels: pads 0 before, 1 after; windows rows 0-2 / 2-4
    assert torch.equal(max_pool_same(x, 3).flatten(),
                       torch.tensor([10., 11., 14., 15.]))
    assert torch.equal(max_pool_same(x, 2), F.max_pool2d(x, 2))
    # k = 5 (pads 1, 2): every window reaches the last row and column
    assert torch.equal(max_pool_same(x, 5).flatten(), torch.full((4, ), 15.))
    neg = -torch.arange(25.).view(1, 1, 5, 5)  # odd: ceil(5 / 2) = 3
    # k = 7 on 5 pixels: pads 3, 3 (TF: (3 - 1) * 2 + 7 - 5 = 6); output i
    # sees rows 2i - 3 .. 2i + 3; padding never wins (-inf)
    assert torch.equal(max_pool_same(neg, 7).flatten(),
                       torch.tensor([0., 0., -1., 0., 0., -1., -5., -5.,
                                     -6.]))
    down = randomize_units(BiMLPDownsample(4, 8)).eval()
    y = torch.randn(2, 4, 6, 5)
    z = down.act(down.norm(down.proj(y)))
    expected = sum(max_pool_same(z, k) for k in (2, 3, 5, 7)) / 4
    torch.testing.assert_close(down(y), expected)
    assert down(y).shape == (2, 8, 3, 3)


# --------------------------------------------------------------- backbone
def test_stage_maps_strides_and_out_types():
    model = build(out_indices=(0, 1, 2, 3)).eval()
    for size, grids in (((64, 64), ((16, 16), (8, 8), (4, 4), (2, 2))),
                        ((64, 100), ((16, 25), (8, 13), (4, 7), (2, 4)))):
        outs = model(torch.randn(2, 3, *size))
        assert [tuple(o.shape) for o in outs] == [
            (2, c, *g) for c, g in zip((8, 16, 24, 32), grids)
        ]
    pooled = build(out_indices=(1, 3), out_type='avg_featmap').eval()
    pooled.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    maps = model(x)
    outs = pooled(x)
    torch.testing.assert_close(outs[0], maps[1].mean((2, 3)))
    # the final norm on the last stage
    torch.testing.assert_close(outs[1], maps[3].mean((2, 3)))
    assert model.num_trunk_layers == 5 + 3 and model.patch_size == 4
    assert model.embed_dims == [8, 16, 24, 32]


def test_zoo_archs_and_block_norm():
    small = BiMLP('bimlp-s', out_indices=(0, 1, 2, 3))
    assert [len(s) for s in small.layers] == [2, 3, 5, 3]
    assert isinstance(small.stages[0][0].norm1, nn.BatchNorm2d)
    medium = BiMLP('bimlp-m')
    assert [len(s) for s in medium.layers] == [2, 4, 11, 4]
    norm = medium.stages[0][0].norm1
    assert isinstance(norm, nn.GroupNorm) and norm.num_groups == 1
    assert isinstance(medium.norm, nn.GroupNorm)
    assert isinstance(medium.patch_embed.norm, nn.GroupNorm)
    assert isinstance(medium.stages[1][0].norm, nn.GroupNorm)
    assert isinstance(small.stages[1][0].norm, nn.BatchNorm2d)
    # the units' norms stay BN
    assert isinstance(medium.stages[0][0].attn.fc_h.norm, nn.BatchNorm2d)
    gn = build(arch=dict(TINY, block_norm='GN'))
    assert isinstance(gn.stages[1][1].norm2, nn.GroupNorm)


def test_full_precision_twin():
    binary, fp = build(), build(binary=False)
    assert binary.state_dict().keys() == fp.state_dict().keys()
    assert all(m.binary for m in binary.modules()
               if isinstance(m, BinaryConv2d))
    assert not any(m.binary for m in fp.modules()
                   if isinstance(m, BinaryConv2d))
    fp.load_state_dict(randomize(binary).state_dict())
    x = torch.randn(2, 3, 64, 64)
    assert not torch.allclose(binary.eval()(x)[0], fp.eval()(x)[0])
    # the same multiply-adds: BOPs of the binary model are FLOPs of the twin
    b, f = count_ops(binary, x), count_ops(fp, x)
    assert b['bops'] > 0 and f['bops'] == 0
    assert b['bops'] + b['flops'] == f['flops']


@pytest.mark.parametrize('binary', [True, False])
def test_all_parameters_receive_gradients(binary):
    model = randomize(build(binary=binary)).train()
    square_loss(model(torch.randn(4, 3, 64, 64))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or
               not p.grad.abs().sum() > 0]
    if binary:
        # the reweighting MLP's units see pooled (1x1) maps binarised: a
        # few images often give the same signs, the same binary
        # convolution outputs, so a zero-variance batch for their BN (no
        # gradient to its weight, or before it); not a wiring fault: its
        # full-precision twin gets every gradient
        missing = [n for n in missing if '.attn.reweight.' not in n]
    assert not missing, missing


def test_drop_path_rates_rise_linearly():
    model = build(drop_path_rate=0.3)
    rates = [
        b.drop_path.drop_prob if isinstance(b.drop_path, DropPath) else 0.
        for s in model.layers for b in s if isinstance(b, BiMLPBlock)
    ]
    # the official rate * i / (blocks - 1) over the 5 blocks
    assert rates == pytest.approx([0., 0.075, 0.15, 0.225, 0.3])
    assert isinstance(model.stages[0][0].drop_path, nn.Identity)
    assert all(isinstance(b.drop_path, nn.Identity)
               for s in build().layers for b in s
               if isinstance(b, BiMLPBlock))


@pytest.mark.parametrize('frozen_stages', [0, 2, 4])
def test_frozen_stages(frozen_stages):
    model = build(frozen_stages=frozen_stages).train()
    frozen = [model.patch_embed]
    frozen += [layer for stage in model.layers[:frozen_stages]
               for layer in stage]
    if frozen_stages == 4:
        frozen.append(model.norm)
    for part in frozen:
        assert not any(p.requires_grad for p in part.parameters())
        assert not any(m.training for m in part.modules())
    for stage in model.layers[frozen_stages:]:
        for layer in stage:
            assert all(p.requires_grad for p in layer.parameters())
            assert all(m.training for m in layer.modules())
    assert model.norm.training == (frozen_stages < 4)


def test_layer_depth_is_where_parameters_enter():
    model = build()
    layers = [layer for stage in model.layers for layer in stage]
    entered = entry_depths(model, layers,
                           lambda: model(torch.randn(2, 3, 64, 64)))
    declared = {
        n: model.get_layer_depth('backbone.' + n, 'backbone.')[0]
        for n, _ in model.named_parameters()
    }
    assert declared == entered
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (9, 10)


def test_with_cp_identical(monkeypatch):
    check_with_cp_identical(
        lambda **kw: randomize(build(**kw)), torch.randn(2, 3, 64, 64),
        lambda model: model.num_trunk_layers, monkeypatch)


def test_pretrained_init_cfg_loads_once(tmp_path):
    check_pretrained_loads_once(build, 'backbone.', tmp_path / 'ckpt.pth')


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(arch='bimlp-xl'), ValueError, r"Unknown arch 'bimlp-xl'.*bimlp-m"),
    (dict(arch=dict(depths=(1, ) * 4, embed_dims=(8, ) * 4)), ValueError,
     r"missing \['mlp_ratios'\]"),
    (dict(arch=dict(TINY, block_norm='LN')), ValueError,
     r"Unknown block_norm 'LN'; choose from \['BN', 'GN'\]"),
    (dict(arch=dict(TINY, mlp_ratios=(2, 2, 1.5, 2))), ValueError,
     'mlp_ratios must be positive ints'),
    (dict(arch=dict(TINY, embed_dims=(8, 16, 24))), ValueError,
     'embed_dims has 3 entries'),
    (dict(arch=dict(TINY, embed_dims=(6, 12, 24, 32))), ValueError,
     'multiples of 4'),
    (dict(binary='yes'), TypeError, 'binary must be a bool'),
    (dict(out_type='raw'), ValueError,
     r"Unknown out_type 'raw'; choose from \['featmap', 'avg_featmap'\]"),
    (dict(out_indices=4), ValueError, r'valid indices are -4..3'),
    (dict(frozen_stages=5), ValueError, r'frozen_stages must be in \[-1, 4'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build(**kwargs)


def test_in_channels():
    model = build(in_channels=1).eval()
    assert model.patch_embed.proj.in_channels == 1
    assert model(torch.randn(1, 1, 32, 32))[0].shape == (1, 32, 1, 1)


# ---------------------------------------------------------------- configs
def test_configs_build_the_binary_model_their_algo_names():
    paths = sorted(
        glob.glob(osp.join(REPO_ROOT, 'configs', '**', 'bimlp', '*.py'),
                  recursive=True))
    assert len(paths) == 4
    for path in paths:
        cfg = Config.fromfile(path)
        binary = cfg.model.backbone.get('binary', True)
        fp = osp.basename(path).startswith('bimlp-fp-')
        assert binary is (not fp), path
