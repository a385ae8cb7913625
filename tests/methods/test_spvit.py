# Copyright (c) mmvitplug contributors.
"""SPViT (https://arxiv.org/abs/2111.11802): the straight-through Bernoulli
gates, the threshold indicators, the convolutions derived from the
attention weights and the FLOPs formula / loss against hand-computed
values; the supernet (plain weights shared and loadable, recording points,
gate gradients, supported and refused backbones), the export (the plain
SPViT computes what the supernet computes in eval mode, for every choice),
the fixed model, every argument and error; golden parity with the official
``UnifiedAttention`` / ``UnifiedMlp`` / ``bernoulli_sample`` /
``SPVisionTransformer.flops`` (values made by running zhuang-group/SPViT
``SPViT_DeiT/models_pruning.py`` with timm 1.0.31 on CPU, ``.cuda()``
stubbed; tests/data/spvit_golden.pt)."""
import math
import os.path as osp

import pytest
import torch
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

from mmvitplug.layers import (Attention, ConvAttention, GatedMlp, Mlp,
                              SPViTAttention, bernoulli_sample, derive_conv,
                              threshold_indicators)
from mmvitplug.models.backbones import PiT, SPViT, SPViTSupernet
from mmvitplug.models.losses import SPViTFLOPsLoss, arch_gates, spvit_flops
from _builders import REPO_ROOT, TEST_DATA, TINY_ARCHS, build_tiny

CONFIGS = osp.join(REPO_ROOT, 'configs', 'bundled', 'spvit')
SEARCH = osp.join(CONFIGS, 'spvit-search-deit-4l192d-p8_1xb16-4e_digits.py')
GOLDEN = osp.join(TEST_DATA, 'spvit_golden.pt')


def sig(x):
    return 1 / (1 + math.exp(-x))


def deit(**kwargs):
    return dict(
        dict(type='mmvitplug.DeiT', arch=dict(TINY_ARCHS['DeiT']),
             img_size=32, patch_size=8), **kwargs)


def supernet(seed=0, **kwargs):
    torch.manual_seed(seed)
    model = SPViTSupernet(deit(), **kwargs)
    model.init_weights()
    return model


# ------------------------------------------------------------------ gates
@pytest.mark.parametrize('temperature', [1.0, 2.0])
def test_bernoulli_sample_is_u_above_1_minus_p_with_relaxed_grad(
        temperature):
    p = torch.tensor([0.1, 0.5, 0.9, 0.7], requires_grad=True)
    torch.manual_seed(3)
    u = torch.rand(4)
    torch.manual_seed(3)
    b = bernoulli_sample(p, temperature)
    b.sum().backward()
    for i in range(4):
        pi, ui = p[i].item(), u[i].item()
        assert b[i].item() == float(ui > 1 - pi)
        logit = (math.log(ui / (1 - ui)) + math.log(pi / (1 - pi))) \
            / temperature
        s = sig(logit)
        # d sigma(l) / dp = sigma'(l) / (p (1 - p) T)
        assert p.grad[i].item() == pytest.approx(
            s * (1 - s) / (pi * (1 - pi) * temperature), rel=1e-4)
    with pytest.raises(ValueError, match='temperature'):
        bernoulli_sample(p, 0.)


def test_threshold_indicators_value_and_double_sigmoid_grad():
    theta = torch.tensor([-1., 0.2, 2.], requires_grad=True)
    ind = threshold_indicators(theta)
    assert ind.tolist() == [0., 1., 1.]
    ind.sum().backward()
    for i, t in enumerate([-1., 0.2, 2.]):
        p = sig(t)
        s = sig(p - 0.5)
        assert theta.grad[i].item() == pytest.approx(
            s * (1 - s) * p * (1 - p), rel=1e-5)


def test_attention_gates_train_eval_and_slowed_gradients():
    attn = SPViTAttention(8, 2, theta=1.5)
    attn.eval()
    with torch.no_grad():
        attn.kernel_thresholds.copy_(torch.tensor([1., 1., -1.]))
    assert attn.gates().tolist() == [1., 1., 0.]
    assert attn.choice() == 'conv3x3'
    with torch.no_grad():
        attn.kernel_thresholds.copy_(torch.tensor([1., -1., 1.]))
    assert attn.gates().tolist() == [1., 0., 0.]  # cumulated
    assert attn.choice() == 'conv1x1'
    assert attn.indicators().tolist() == [1., 0., 0.]
    with torch.no_grad():
        attn.kernel_thresholds.copy_(torch.tensor([-1., 1., 1.]))
    assert attn.choice() == 'skip'
    # all open: g0 and g1 detached (official single_path_init)
    attn.train()
    with torch.no_grad():
        attn.kernel_thresholds.fill_(20.)
    g = attn.gates()
    assert g.tolist() == [1., 1., 1.]
    g[0].backward(retain_graph=True)  # detached: no path to the thresholds
    assert attn.kernel_thresholds.grad is None or \
        not attn.kernel_thresholds.grad.any()
    with pytest.raises(ValueError, match='alpha'):
        SPViTAttention(8, 2, alpha=0.)
    with pytest.raises(ValueError, match='divisible'):
        SPViTAttention(9, 2)


def test_attention_and_mlp_arguments():
    torch.manual_seed(0)
    x = torch.randn(2, 17, 8)
    fused = SPViTAttention(8, 2).eval()
    explicit = SPViTAttention(8, 2, fused_attn=False).eval()
    explicit.load_state_dict(fused.state_dict())
    torch.testing.assert_close(explicit(x, (4, 4)), fused(x, (4, 4)))
    assert SPViTAttention(8, 2, qkv_bias=False).qkv.bias is None
    for kwargs in (dict(attn_drop=0.9), dict(proj_drop=0.9)):
        drop = SPViTAttention(8, 2, **kwargs)
        drop.load_state_dict(fused.state_dict())
        with torch.no_grad():
            drop.kernel_thresholds.fill_(20.)  # always MSA
        assert not torch.allclose(drop.train()(x, (4, 4)), fused(x, (4, 4)))
        torch.testing.assert_close(drop.eval()(x, (4, 4)), fused(x, (4, 4)))
    mlp = GatedMlp(8, 4, act_layer=torch.nn.ReLU, drop=0.5, theta=20.)
    assert isinstance(mlp.act, torch.nn.ReLU) and mlp.drop.p == 0.5
    with pytest.raises(ValueError, match='num_extra_tokens'):
        fused(x, (4, 4), 17)  # no patch token left
    with pytest.raises(ValueError, match='grid'):
        fused(x, (4, 4), 0)  # 17 tokens: not a 4 x 4 grid


# ----------------------------------------------------------- derived convs
def test_derive_conv_hand_computed_positions():
    # 2 heads of 1 dim on C = 2; head_probs pick head 0 at the even
    # positions and head 1 at the odd ones (alpha 1e-2: one-hot)
    v_weight = torch.tensor([[1., 2.], [3., 4.]])  # rows: head 0, head 1
    v_bias = torch.tensor([0.5, -1.])
    proj = torch.tensor([[10., 20.], [30., 40.]])  # columns: heads
    picks = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0])
    head_probs = torch.zeros(2, 9)
    head_probs[picks, torch.arange(9)] = 1.
    w, b, p = derive_conv(v_weight, v_bias, proj, head_probs, 1e-2, 3)
    assert w.shape == (1, 2, 3, 3)
    for kh in range(3):
        for kw in range(3):
            h = int(picks[3 * kw + kh])  # position k = 3 * column + row
            assert w[0, :, kh, kw].tolist() == v_weight[h].tolist()
    # bias: every position's; projection: the sum of the 9 mixtures
    assert b.item() == pytest.approx(5 * 0.5 + 4 * -1.)
    assert p[:, 0].tolist() == pytest.approx(
        (5 * proj[:, 0] + 4 * proj[:, 1]).tolist())
    w1, b1, p1 = derive_conv(v_weight, v_bias, proj, head_probs, 1e-2, 1)
    assert w1.shape == (1, 2, 1, 1)
    assert w1.flatten().tolist() == v_weight[0].tolist()  # k = 4: head 0
    assert b1.item() == 0.5 and p1[:, 0].tolist() == [10., 30.]
    # uniform head_probs (the init): the mean over heads
    w1, _, _ = derive_conv(v_weight, None, proj, torch.ones(2, 9), 1e-2, 1)
    assert w1.flatten().tolist() == pytest.approx([2., 3.])
    with pytest.raises(ValueError, match='kernel_size'):
        derive_conv(v_weight, v_bias, proj, head_probs, 1e-2, 5)
    with pytest.raises(ValueError, match='head_probs'):
        derive_conv(v_weight, v_bias, proj, torch.ones(2, 4), 1e-2, 3)


def _official_attention(golden):
    state = dict(golden['attn_state'])
    state['qkv.weight'] = torch.cat(
        [state.pop('qk.weight'), state.pop('v.weight')])
    state['qkv.bias'] = torch.cat([state.pop('qk.bias'), state.pop('v.bias')])
    attn = SPViTAttention(12, 3)
    attn.load_state_dict(state, strict=True)
    return attn


def test_golden_parity_with_the_official_unified_attention():
    golden = torch.load(GOLDEN, weights_only=False)
    attn = _official_attention(golden).eval()
    x = golden['x']
    for name, th in golden['thresholds'].items():
        with torch.no_grad():
            attn.kernel_thresholds.copy_(torch.tensor(th))
        assert attn.choice() == name
        torch.testing.assert_close(
            attn(x, (4, 4)), golden[f'eval_{name}'], atol=1e-5, rtol=1e-5)
        assert torch.equal(attn.indicators(), golden[f'indicators_{name}'])
    # the official fine-tuning modules of the chosen convolutions
    for name, size in (('conv1x1', 1), ('conv3x3', 3)):
        conv = ConvAttention(12, 4, size).eval()
        w, b, p = attn.derived_conv(size)
        bn = attn.bn_3x3 if size == 3 else attn.bn_1x1
        conv.load_state_dict(
            dict(**{'conv.weight': w, 'conv.bias': b, 'proj.weight': p,
                    'proj.bias': attn.proj.bias},
                 **{f'bn.{k}': v for k, v in bn.state_dict().items()}))
        torch.testing.assert_close(
            conv(x, (4, 4)), golden[f'finetune_{name}'], atol=1e-5,
            rtol=1e-5)
    # training: sampled gates, batch statistics, gradients to the gates
    attn.train()
    with torch.no_grad():
        attn.kernel_thresholds.copy_(golden['train_thresholds'])
    torch.manual_seed(1)
    y = attn(x, (4, 4))
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    torch.testing.assert_close(y, golden['train_out'], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attn.kernel_thresholds.grad,
                               golden['train_threshold_grad'], atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(attn.head_probs.grad,
                               golden['train_head_probs_grad'], atol=1e-3,
                               rtol=1e-4)


def test_golden_parity_with_the_official_unified_mlp_and_sample():
    golden = torch.load(GOLDEN, weights_only=False)
    mlp = GatedMlp(12, 8, theta=0.)
    state = dict(golden['mlp_state'])
    state['thresholds'] = state.pop('ffn_thresholds')
    mlp.load_state_dict(state, strict=True)
    mlp.train()
    torch.manual_seed(2)
    torch.testing.assert_close(mlp(golden['x']), golden['mlp_train_out'])
    assert mlp.indicators().sum().item() == pytest.approx(
        golden['mlp_indicator_sum'].item())
    torch.manual_seed(3)
    assert torch.equal(bernoulli_sample(golden['bern_probs']),
                       golden['bern_sample'])
    mlp.eval()  # eval: the thresholded gates, units 4..7 of linspace(-1, 1)
    assert mlp.kept().tolist() == [4, 5, 6, 7]
    h = mlp.act(mlp.fc1(golden['x']))
    h[..., :4] = 0
    torch.testing.assert_close(mlp(golden['x']), mlp.fc2(h))


# ------------------------------------------------------------------ FLOPs
def test_flops_formula_hand_computed():
    # the digits DeiT: C 192, 3 heads (d 64), 16 patches + 1 class token,
    # 4 blocks, MLP 768, patch 8 on 3 channels, 10 classes
    C, d, hw, n = 192, 64, 16, 17
    msa = 4 * n * C**2 + 2 * C * n**2  # 4 (HW + 1) d^2 + 2 d (HW + 1)^2
    conv3 = (9 * C * d + d * C) * hw
    conv1 = (C * d + d * C) * hw
    mlp = 2 * hw * C * 768
    const = 4 * 2 * C * n + hw * C * 3 * 64 + C * 10
    assert (msa, conv3, conv1, mlp) == (2617728, 1966080, 393216, 4718592)
    geometry = dict(embed_dims=C, num_heads=3, num_patches=hw,
                    num_extra_tokens=1, in_channels=3, patch_size=8,
                    num_classes=10)
    total, att, ffn = spvit_flops(torch.ones(4, 3), torch.ones(4, 768),
                                  **geometry)
    assert total.item() == 4 * (msa + mlp) + const == 29963136
    assert (att.item(), ffn.item()) == (4 * msa, 4 * mlp)
    gates, units = arch_gates(['skip', 'conv1x1', 'conv3x3', 'msa'],
                              [0, 768, 384, 1], 768)
    assert gates.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]]
    total, att, ffn = spvit_flops(gates, units, **geometry)
    assert att.item() == conv1 + conv3 + msa
    assert ffn.item() == 2 * hw * C * (768 + 384 + 1)
    assert total.item() == att.item() + ffn.item() + const
    # two extra tokens (distilled DeiT): N = HW + 2 in the MSA and norms
    total2 = spvit_flops(torch.ones(4, 3), torch.ones(4, 768),
                         **dict(geometry, num_extra_tokens=2))[0]
    assert total2.item() == 4 * (4 * 18 * C**2 + 2 * C * 18**2 + mlp) + \
        4 * 2 * C * 18 + hw * C * 3 * 64 + C * 10
    with pytest.raises(ValueError, match='msa_gates'):
        spvit_flops(torch.ones(4, 2), torch.ones(4, 768), **geometry)
    with pytest.raises(ValueError, match='ffn_hidden'):
        arch_gates(['msa'], [769], 768)


def test_flops_and_loss_golden_parity_with_the_official_model():
    golden = torch.load(GOLDEN, weights_only=False)
    msa = torch.stack([torch.cumprod(threshold_indicators(t), 0)
                       for t in golden['net_thresholds']])
    ffn = torch.stack([threshold_indicators(t)
                       for t in golden['net_ffn_thresholds']])
    loss = SPViTFLOPsLoss(
        target_gflops=0.0001, embed_dims=12, num_heads=3, num_patches=16,
        num_extra_tokens=1, in_channels=3, patch_size=8, num_classes=10,
        loss_weight=20.)
    total, att, ffn_flops = spvit_flops(msa, ffn, 12, 3, 16, 1, 3, 8, 10)
    assert (total.item(), att.item(), ffn_flops.item()) == pytest.approx(
        golden['net_flops'])
    assert loss(msa, ffn).item() == pytest.approx(golden['net_bops_loss'],
                                                  rel=1e-5)


def test_flops_loss_value_gradient_and_arguments():
    loss = SPViTFLOPsLoss(0.02, 192, 3, 16, patch_size=8, num_classes=10,
                          loss_weight=100.)
    theta = torch.full((4, 3), 1.5, requires_grad=True)
    ffn_theta = torch.full((4, 768), 1.5, requires_grad=True)
    msa = torch.cumprod(threshold_indicators(theta), 1)
    value = loss(msa, threshold_indicators(ffn_theta))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(100 * (0.02 - 0.029963136)**2)
    value.backward()
    # above the target: every threshold is pushed down (positive gradient)
    assert (theta.grad > 0).all() and (ffn_theta.grad > 0).all()
    # each argument changes the value
    base = dict(target_gflops=0.02, embed_dims=192, num_heads=3,
                num_patches=16, num_extra_tokens=1, in_channels=3,
                patch_size=8, num_classes=10, loss_weight=100.)
    ones = (torch.ones(4, 3), torch.ones(4, 768))
    ref = SPViTFLOPsLoss(**base)(*ones).item()
    for key, value in dict(target_gflops=0.01, num_patches=25,
                           num_extra_tokens=2, in_channels=1, patch_size=4,
                           num_classes=100, loss_weight=10.).items():
        assert SPViTFLOPsLoss(**dict(base, **{key: value}))(
            *ones).item() != pytest.approx(ref), key
    conv = torch.tensor([[1., 1., 0.]] * 4)  # num_heads: the conv FLOPs
    assert SPViTFLOPsLoss(**dict(base, num_heads=6))(conv, ones[1]).item() \
        != pytest.approx(SPViTFLOPsLoss(**base)(conv, ones[1]).item())
    for key, bad, match in (('target_gflops', 0, 'target_gflops'),
                            ('embed_dims', 0, 'embed_dims'),
                            ('num_heads', 5, 'num_heads'),
                            ('num_patches', 0, 'num_patches'),
                            ('num_extra_tokens', -1, 'num_extra_tokens'),
                            ('in_channels', 1.5, 'in_channels'),
                            ('patch_size', True, 'patch_size'),
                            ('num_classes', -1, 'num_classes'),
                            ('loss_weight', -1., 'loss_weight')):
        with pytest.raises((TypeError, ValueError), match=match):
            SPViTFLOPsLoss(**dict(base, **{key: bad}))


# ---------------------------------------------------------------- supernet
def test_supernet_shares_and_loads_the_plain_weights():
    torch.manual_seed(0)
    plain = MODELS.build(deit())
    plain.init_weights()
    net = SPViTSupernet(deit(), theta=0.7, alpha=0.5)
    result = net.load_state_dict(
        {f'vit.{k}': v for k, v in plain.state_dict().items()}, strict=False)
    assert not result.unexpected_keys
    assert sorted({k.split('.', 4)[-1] for k in result.missing_keys}) == [
        'bn_1x1.bias', 'bn_1x1.running_mean', 'bn_1x1.running_var',
        'bn_1x1.weight', 'bn_3x3.bias', 'bn_3x3.running_mean',
        'bn_3x3.running_var', 'bn_3x3.weight', 'head_probs',
        'kernel_thresholds', 'thresholds'
    ]
    block = net.blocks[0]
    assert isinstance(block.attn, SPViTAttention)
    assert isinstance(block.mlp, GatedMlp)
    assert block.attn.kernel_thresholds.tolist() == pytest.approx([0.7] * 3)
    assert block.mlp.thresholds.tolist() == pytest.approx([0.7] * 64)
    assert block.attn.alpha == 0.5  # alpha
    # all gates open in eval: the supernet is the plain DeiT
    x = torch.randn(2, 3, 32, 32)
    net.eval(), plain.eval()
    torch.testing.assert_close(net(x)[0], plain(x)[0])
    with pytest.raises(TypeError, match='theta'):
        SPViTSupernet(deit(), theta='1.5')


def test_supernet_records_the_gate_indicators():
    net = supernet()
    seen = {}
    net.msa_gates.register_forward_hook(
        lambda m, i, o: seen.__setitem__('msa', o))
    net.ffn_gates.register_forward_hook(
        lambda m, i, o: seen.__setitem__('ffn', o))
    with torch.no_grad():
        net.blocks[1].attn.kernel_thresholds.copy_(torch.tensor([1., -1, 1]))
        net.blocks[2].mlp.thresholds[:10] = -1.
    net.train()
    out = net(torch.randn(2, 3, 32, 32))[0]
    assert out.shape == (2, 32)
    assert seen['msa'].shape == (3, 3) and seen['ffn'].shape == (3, 64)
    assert seen['msa'].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 1]]
    assert seen['ffn'].sum(1).tolist() == [64, 64, 54]
    loss = SPViTFLOPsLoss(0.001, 32, 2, 16, patch_size=8, num_classes=10)
    loss(seen['msa'], seen['ffn']).backward()
    grads = {n for n, p in net.named_parameters() if p.grad is not None}
    assert grads and all('thresholds' in n for n in grads)


def test_supernet_refuses_unsupported_backbones():
    with pytest.raises(TypeError, match='VisionBackbone'):
        SPViTSupernet(dict(type='mmvitplug.DeiT', arch='deit-tiny') and
                      torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='flat trunk'):
        SPViTSupernet(build_tiny(PiT))
    with pytest.raises(ValueError, match='out_indices'):
        SPViTSupernet(deit(out_indices=(0, 2)))


# ------------------------------------------------------------------ export
def _searched():
    net = supernet(seed=1)
    with torch.no_grad():
        for block, th in zip(net.blocks, ([1., 1., -1.], [-1., 1., 1.],
                                          [1., -1., 1.])):
            block.attn.kernel_thresholds.copy_(torch.tensor(th))
            block.attn.head_probs.normal_(0, 0.01)
            block.mlp.thresholds.copy_(torch.linspace(-1, 2, 64))
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.normal_(1, 0.2)
    return net.eval()


def test_export_computes_what_the_supernet_computes():
    net = _searched()
    arch = net.export_arch()
    kept = int((torch.sigmoid(torch.linspace(-1, 2, 64)) > 0.5).sum())
    assert arch == dict(msa_choices=['conv3x3', 'skip', 'conv1x1'],
                        ffn_hidden=[kept] * 3)
    plain = SPViT(deit(), **arch).eval()
    plain.load_state_dict(net.export_state_dict(), strict=True)
    assert isinstance(plain.blocks[0].attn, ConvAttention)
    assert plain.blocks[0].attn.conv.kernel_size == (3, 3)
    assert plain.blocks[1].attn is None and plain.blocks[1].norm1 is None
    assert plain.blocks[2].attn.conv.kernel_size == (1, 1)
    assert plain.blocks[0].mlp.fc1.out_features == kept
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(plain(x)[0], net(x)[0], atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in plain.parameters()) < sum(
        p.numel() for p in net.parameters())


def test_fixed_model_arguments():
    model = SPViT(deit(), ['msa', 'conv3x3', 'skip'], [64, 3, 0])
    assert isinstance(model.blocks[0].attn, Attention)
    assert model.blocks[0].mlp.fc1.out_features == 64
    assert isinstance(model.blocks[1].mlp, Mlp)
    assert model.blocks[1].mlp.fc1.out_features == 3
    assert model.blocks[2].mlp.fc1.out_features == 0
    model.init_weights()
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 32)
    default = SPViT(deit(), ['msa'] * 3)  # ffn_hidden None: unchanged
    assert [b.mlp.fc1.out_features for b in default.blocks] == [64] * 3
    with pytest.raises(ValueError, match='msa_choices'):
        SPViT(deit(), ['msa', 'conv5x5', 'skip'])
    with pytest.raises(ValueError, match='msa_choices'):
        SPViT(deit(), ['msa'] * 2)
    with pytest.raises(ValueError, match='ffn_hidden'):
        SPViT(deit(), ['msa'] * 3, [64, 65, 1])
    with pytest.raises(ValueError, match='ffn_hidden'):
        SPViT(deit(), ['msa'] * 3, [64, 64])
    with pytest.raises(ValueError, match='num_extra_tokens'):
        ConvAttention(8, 4, 3)(torch.randn(1, 5, 8), (2, 2), 5)
    with pytest.raises(ValueError, match='kernel_size'):
        ConvAttention(8, 4, 2)


# ----------------------------------------------------------------- config
def test_search_config_gives_the_thresholds_their_own_lr():
    cfg = Config.fromfile(SEARCH)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[names[id(p)]] = (group['lr'], group['weight_decay'])
    thresholds = [n for n in lrs if 'thresholds' in n]
    assert len(thresholds) == 8  # 4 blocks x (attention, FFN)
    assert all(lrs[n] == (pytest.approx(1e-2), 0.) for n in thresholds)
    assert lrs['backbone.vit.blocks.0.attn.qkv.weight'] == (
        pytest.approx(1e-4), pytest.approx(0.05))
    loss = cfg.model.distiller.losses.loss_flops
    assert loss.target_gflops < 0.029963136  # below the unpruned model


@pytest.mark.parametrize('rel,gflops,full', [
    ('configs/spvit/spvit-finetune-deit-tiny_4xb256-130e_in1k.py',
     1.036705536, 1.251052032),
    ('configs/spvit/spvit-finetune-deit-small_8xb128-130e_in1k.py',
     3.346503936, 4.58654208),
])
def test_imagenet_finetune_configs_load_the_exported_search(
        rel, gflops, full):
    """The official searched architectures (paper: 1.0 / 3.3 GFLOPs):
    1.037 / 3.347 GFLOPs by the official formula, above their search
    targets 1.0 / 3.2, below the unpruned 1.251 / 4.587; the weights a
    supernet exports for them load strictly (the fine-tuning's
    ``load_from``)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, rel))
    backbone = MODELS.build(cfg.model.backbone)
    blocks = backbone.blocks
    C = blocks[0].mlp.fc1.in_features
    hidden = 4 * C
    assert [b.attn.conv.kernel_size for b in blocks
            if isinstance(b.attn, ConvAttention)] == [(1, 1)] * (
                2 if 'tiny' in rel else 1)
    assert [b.mlp.fc1.out_features for b in blocks] == list(
        backbone.ffn_hidden)
    msa, ffn = arch_gates(backbone.msa_choices, backbone.ffn_hidden, hidden)
    total = spvit_flops(msa, ffn, C, C // 64, 196)[0].item() / 1e9
    assert total == pytest.approx(gflops)
    ones = spvit_flops(torch.ones(12, 3), torch.ones(12, hidden), C, C // 64,
                       196)[0].item() / 1e9
    assert ones == pytest.approx(full)
    # a supernet whose gates chose this architecture exports its weights
    net = SPViTSupernet(cfg.model.backbone.backbone)
    with torch.no_grad():
        for block, choice, h in zip(net.blocks, backbone.msa_choices,
                                    backbone.ffn_hidden):
            block.attn.kernel_thresholds.copy_(
                torch.tensor([1., -1., -1.] if choice == 'conv1x1' else
                             [1., 1., 1.]))
            block.mlp.thresholds.fill_(-1.)[:h] = 1.
    assert net.export_arch() == dict(
        msa_choices=list(backbone.msa_choices),
        ffn_hidden=list(backbone.ffn_hidden))
    backbone.load_state_dict(net.export_state_dict(), strict=True)


@pytest.mark.parametrize('name,arc_lr', [
    ('spvit-search-deit-tiny_4xb256-10e_in1k.py', 1e-3),
    ('spvit-search-deit-small_8xb128-10e_in1k.py', 5e-4),
])
def test_imagenet_search_configs_official_arc_lr(name, arc_lr):
    """The thresholds' own lr (official ``arc_lr``, not scaled with the
    batch) at the official batch (4 x 256 / 8 x 128 = 1024, the
    auto_scale_lr base)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'spvit', name))
    mult = cfg.optim_wrapper.paramwise_cfg.custom_keys['thresholds']
    assert cfg.optim_wrapper.optimizer.lr * mult.lr_mult == pytest.approx(
        arc_lr)
    assert mult.decay_mult == 0.
    assert cfg.auto_scale_lr.base_batch_size == 1024
