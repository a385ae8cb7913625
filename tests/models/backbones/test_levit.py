# Copyright (c) mmvitplug contributors.
"""LeViT: parity with timm and the official code, any grid, BN fusion.

``tests/data/levit_golden.pt`` was produced once from the official code,
``levit.py`` of facebookresearch/LeViT at commit 3772b8e (unmodified; it
imports ``trunc_normal_`` / ``register_model`` from timm 1.0.31), with
torch 2.13.0:

- ``state_dict``: the official state dict (float16; all values are
  float16-exact, load with ``.float()``) of ``LeViT(img_size=80,
  patch_size=16, embed_dim=[16, 24, 32], key_dim=[4] * 3, depth=[1, 1, 2],
  num_heads=[2, 3, 4], attn_ratio=[2] * 3, mlp_ratio=[2] * 3,
  down_ops=[['Subsample', 4, 4, 4, 2, 2], ['Subsample', 4, 6, 4, 2, 2]],
  attention_activation=mlp_activation=nn.Hardswish, hybrid_backbone=b16(16,
  nn.Hardswish, resolution=80), num_classes=10, distillation=True)`` built
  after ``torch.manual_seed(0)``, whose parameters were then overwritten
  in ``named_parameters()`` order (``0.5 * randn`` for attention biases,
  ``0.2 * randn`` otherwise), BN running means ``0.1 * randn``, running
  variances ``rand + 0.5``, everything rounded to float16 (a 5x5 token
  grid: odd sizes exercise the subsampling ``(H - 1) // 2 + 1``).
- ``input``: ``torch.randn(2, 3, 80, 80)`` drawn next (float16-exact).
- ``logits``: eval-mode output (mean of the two heads);
  ``train_logits``: the training-mode pair (head, head_dist) on the same
  input (batch statistics), computed after it.
- ``param_counts``: parameters of the official ``LeViT_128S`` ...
  ``LeViT_384`` factories (1000 classes, distillation head).
"""
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import convert_levit, get_converter
from mmvitplug.models.backbones import LeViT
from mmvitplug.models.backbones.levit import (ConvBN, LinearBN, _bias_index,
                                              subsampled)
from mmvitplug.models.heads.levit_head import BNLinear, LeViTClsHead
from mmvitplug.models.utils import load_pretrained
from _builders import TEST_DATA

timm = pytest.importorskip('timm')

GOLDEN = osp.join(TEST_DATA, 'levit_golden.pt')
GOLDEN_ARCH = dict(embed_dims=[16, 24, 32], key_dim=4, num_heads=[2, 3, 4],
                   depths=[1, 1, 2])
TINY = dict(embed_dims=[16, 24, 32], key_dim=4, num_heads=[2, 3, 4],
            depths=[1, 1, 1])
ZOO = {
    'levit-128s': ('LeViT_128S', 'levit_128s'),
    'levit-128': ('LeViT_128', 'levit_128'),
    'levit-192': ('LeViT_192', 'levit_192'),
    'levit-256': ('LeViT_256', 'levit_256'),
    'levit-384': ('LeViT_384', 'levit_384'),
}


@pytest.fixture(scope='module')
def golden():
    g = torch.load(GOLDEN, weights_only=True)
    g['state_dict'] = {
        k: v.float() if v.is_floating_point() else v
        for k, v in g['state_dict'].items()
    }
    g['input'] = g['input'].float()
    return g


def classifier(arch=GOLDEN_ARCH, num_classes=10, distilled=True, **bb):
    from mmpretrain.registry import MODELS
    dims = arch['embed_dims'] if isinstance(arch, dict) else \
        LeViT.arch_zoo[arch]['embed_dims']
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.LeViT', arch=arch, **bb),
            head=dict(type='mmvitplug.LeViTClsHead', num_classes=num_classes,
                      in_channels=dims[-1], distilled=distilled)))


def tiny(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('img_size', 64)
    model = LeViT(TINY, **kwargs)
    randomize(model)
    return model


def randomize(model, seed=1):
    """Random weights (std 1 / sqrt(fan_in)), BN affines and statistics,
    attention biases, so nothing hides (BN scales initialised to 0 too)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if 'attention_biases' in name:
                p.copy_(0.5 * noise)
            elif p.dim() > 1:
                p.copy_(noise / p[0].numel()**0.5)
            elif re.search(r'(fc2|proj|ln2|proj\.ln)\.bn\.weight$', name):
                p.copy_(0.3 * noise)  # residual branches (zero-initialised)
            elif name.endswith('bn.weight'):
                p.copy_(1 + 0.2 * noise)
            else:
                p.copy_(0.2 * noise)
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model


def timm_tiny(img_size=64, depth=(1, 1, 1)):
    from timm.models.levit import LevitDistilled
    torch.manual_seed(0)
    return randomize(
        LevitDistilled(img_size=img_size, num_classes=10,
                       embed_dim=(16, 24, 32), key_dim=4,
                       num_heads=(2, 3, 4), depth=depth))


# ---------------------------------------------------------------- parity
@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_official(golden, fused_attn):
    model = classifier(img_size=80, fused_attn=fused_attn).eval()
    model.load_state_dict(convert_levit({'model': golden['state_dict']}
                                        ['model']), strict=True)
    x = golden['input']
    with torch.no_grad():
        logits = model(x, mode='tensor')
        assert logits.abs().max() > 0.1  # the golden logits are not trivial
        torch.testing.assert_close(logits, golden['logits'], atol=1e-5,
                                   rtol=1e-5)
        model.train()
        cls, dist = model.head.forward_logits(model.extract_feat(x))
    torch.testing.assert_close(cls, golden['train_logits'][0], atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(dist, golden['train_logits'][1], atol=1e-4,
                               rtol=1e-4)


def test_golden_through_pretrained_init_cfg(golden, tmp_path):
    path = str(tmp_path / 'official.pth')
    torch.save({'model': golden['state_dict']}, path)
    model = classifier(
        img_size=80,
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.'))
    model.init_weights()
    head = {k[5:]: v for k, v in convert_levit(golden['state_dict']).items()
            if k.startswith('head.')}
    model.head.load_state_dict(head)
    with torch.no_grad():
        logits = model.eval()(golden['input'], mode='tensor')
    torch.testing.assert_close(logits, golden['logits'], atol=1e-5,
                               rtol=1e-5)


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('size', [(64, 64), (224, 224)])
def test_timm_parity(size, fused_attn):
    if size == (224, 224):
        torch.manual_seed(0)
        ref, arch = randomize(timm.create_model('levit_128s')), 'levit-128s'
        num_classes = 1000
    else:
        ref, arch, num_classes = timm_tiny(), TINY, 10
    model = classifier(arch, num_classes=num_classes, img_size=size[0],
                       fused_attn=fused_attn)
    model.load_state_dict(convert_levit(ref.state_dict()), strict=True)
    # images with distinct colours: the heads' training-mode BN normalises
    # over the batch, and near-identical features would amplify rounding
    x = torch.randn(4, 3, *size) + 2 * torch.randn(4, 3, 1, 1)
    with torch.no_grad():
        expected = ref.eval()(x)
        logits = model.eval()(x, mode='tensor')
        assert expected.abs().max() > 0.5, expected.abs().max()
        assert (logits - expected).abs().max() <= 1e-4
        print(f'max abs logit error {(logits - expected).abs().max():.2e}')
        # training mode (batch statistics), both heads
        ref.train().set_distilled_training(True)
        cls, dist = ref(x)
        ours = model.train().head.forward_logits(model.extract_feat(x))
    # batch-statistics BN through the whole trunk amplifies the float32
    # rounding differences of the channels-last stem convolutions (1e-7)
    torch.testing.assert_close(ours[0], cls, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(ours[1], dist, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize('arch', sorted(ZOO))
def test_parameter_counts(golden, arch):
    official, timm_name = ZOO[arch]
    with torch.device('meta'):
        model = classifier(arch, num_classes=1000)
        ref = timm.create_model(timm_name)
    count = sum(p.numel() for p in model.parameters())
    assert count == golden['param_counts'][official]
    assert count == sum(p.numel() for p in ref.parameters())
    with torch.device('meta'):
        plain = classifier(arch, num_classes=1000, distilled=False)
        ref = timm.create_model(timm_name, distilled=False)
    assert sum(p.numel() for p in plain.parameters()) == sum(
        p.numel() for p in ref.parameters())


def test_zoo_settings_match_timm():
    from timm.models.levit import model_cfgs
    for arch, (_, timm_name) in ZOO.items():
        ours, ref = LeViT.arch_zoo[arch], model_cfgs[timm_name]
        assert list(ref['embed_dim']) == ours['embed_dims']
        assert list(ref['num_heads']) == ours['num_heads']
        assert list(ref['depth']) == ours['depths']
        assert ref['key_dim'] == ours['key_dim']


# ------------------------------------------------------------- attention
def test_fused_matches_explicit_outputs_and_grads():
    x = torch.randn(3, 3, 80, 48)
    results = []
    for fused in (True, False):
        model = tiny(fused_attn=fused).train()
        (out, ) = model(x)
        (out**2).sum().backward()
        results.append((out, {n: p.grad for n, p in
                              model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5,
                               rtol=1e-5)
    scale = max(g.abs().max() for g in results[1][1].values())
    for name, grad in results[1][1].items():
        error = (results[0][1][name] - grad).abs().max()
        assert error <= 1e-4 * grad.abs().max() + 1e-5 * scale, name
    assert results[1][1]['stages.0.0.attn.attention_biases'].abs().sum() > 0


def test_bias_index_is_absolute_offset():
    # 2x3 key grid, queries every 2nd row / column: |q * 2 - k|
    index = _bias_index((1, 2), (2, 3), 2, 3)
    q = [(0, 0), (0, 2)]
    k = [(y, x) for y in range(2) for x in range(3)]
    expected = [[abs(a - c) * 3 + abs(b - d) for c, d in k] for a, b in q]
    assert index.tolist() == expected
    assert subsampled((5, 4)) == (3, 2)


def test_native_grid_gathers_the_table():
    model = tiny(img_size=(64, 48)).eval()
    attn = model.stages[0][0].attn
    assert attn.resolution == (4, 3)
    with torch.no_grad():
        bias = attn.attention_bias((4, 3), (4, 3))
    table = attn.attention_biases
    for i in range(12):
        for j in range(12):
            dy, dx = abs(i // 3 - j // 3), abs(i % 3 - j % 3)
            assert torch.equal(bias[:, i, j], table[:, dy * 3 + dx])


def test_other_grids_resize_the_table_like_loading():
    """A grid the tables were not learned on uses them resized (bicubic,
    align_corners): the same as a model built for that grid loading the
    checkpoint (resized on load)."""
    src = tiny(img_size=64).eval()
    dst = LeViT(TINY, img_size=(80, 48)).eval()
    report = load_pretrained(dst, src.state_dict(), logger=None)
    assert report.complete and not report.mismatched
    x = torch.randn(2, 3, 80, 48)
    with torch.no_grad():
        torch.testing.assert_close(src(x)[0], dst(x)[0], atol=1e-5,
                                   rtol=1e-5)
        # zero offset keeps its bias (align_corners)
        bias = src.stages[0][0].attn.attention_bias((5, 3), (5, 3))
    assert torch.allclose(bias[:, 0, 0],
                          src.stages[0][0].attn.attention_biases[:, 0])
    assert dst.stages[0][0].attn.attention_biases.shape == (2, 15)


@pytest.mark.parametrize('size', [(80, 48), (33, 17), (16, 16), (224, 160)])
def test_any_input_size(size):
    model = tiny(out_type='featmap', out_indices=(0, 1, 2),
                 stem_out_strides=(4, 8)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    grid = size
    grids = []
    for _ in range(4):
        grid = subsampled(grid)
        grids.append(grid)
    for _ in range(2):
        grids.append(subsampled(grids[-1]))
    expected = [(4, grids[1]), (8, grids[2]), (16, grids[3]),
                (24, grids[4]), (32, grids[5])]
    assert [(o.shape[1], tuple(o.shape[2:])) for o in outs] == expected
    assert all(o.is_contiguous() for o in outs)


def test_eval_caches_biases_training_does_not():
    model = tiny().eval()
    attn = model.stages[0][0].attn
    with torch.no_grad():
        first = attn.attention_bias((4, 4), (4, 4))
        assert attn.attention_bias((4, 4), (4, 4)) is first
    # with grad enabled (e.g. fine-tuning in eval mode) nothing is cached
    assert attn.attention_bias((4, 4), (4, 4)).requires_grad
    model.train()
    assert not attn._bias_cache
    assert attn.attention_bias((4, 4), (4, 4)) is not \
        attn.attention_bias((4, 4), (4, 4))
    # loading new weights drops the cache
    model.eval()
    with torch.no_grad():
        attn.attention_bias((4, 4), (4, 4))
        model.load_state_dict(tiny(seed=3).state_dict())
        fresh = tiny(seed=3).eval()
        x = torch.randn(1, 3, 64, 64)
        torch.testing.assert_close(model(x)[0], fresh(x)[0])


# ---------------------------------------------------------------- fusion
def test_fuse_keeps_outputs():
    model = classifier(TINY, img_size=64).eval()
    randomize(model)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        before = model(x, mode='tensor')
        model.backbone.fuse()
        model.head.head = model.head.head.fuse()
        model.head.head_dist = model.head.head_dist.fuse()
        after = model(x, mode='tensor')
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert not [m for m in model.modules()
                if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    with pytest.raises(RuntimeError, match='eval mode'):
        tiny().train().fuse()
    assert LeViT.switch_to_deploy is LeViT.fuse


def test_fused_layers_formula():
    for layer, x in ((LinearBN(6, 5), torch.randn(3, 4, 6)),
                     (ConvBN(3, 5), torch.randn(2, 3, 9, 7)),
                     (BNLinear(6, 5), torch.randn(3, 6))):
        randomize(layer).eval()
        with torch.no_grad():
            torch.testing.assert_close(layer.fuse()(x), layer(x))


# ------------------------------------------------------------ arguments
def test_arch_and_attributes():
    model = LeViT('levit-128s')
    assert model.embed_dims == [128, 256, 384]
    assert model.patch_size == 16
    assert [len(s) for s in model.stages] == [2, 4, 5]
    assert model.num_layers == model.num_trunk_layers == 11
    assert isinstance(model.stages[1][0].attn.q, LinearBN)
    assert model.stages[1][0].attn.num_heads == 128 // 16
    assert model.stages[1][0].attn.val_dim == 4 * 16
    assert model.stages[1][0].mlp.fc1.linear.out_features == 2 * 256
    assert model.stages[0][0].attn.resolution == (14, 14)
    assert model.stages[2][0].attn.resolution == (7, 7)
    assert model.stages[2][1].attn.resolution == (4, 4)
    assert isinstance(model.stages[0][0].attn.act, nn.Hardswish)
    # optional arch keys
    model = LeViT(dict(TINY, act='silu', attn_ratio=[1, 1, 1],
                       mlp_ratio=[3, 3, 3], down_attn_ratio=2,
                       down_mlp_ratio=1), img_size=64)
    assert isinstance(model.stages[0][0].mlp.act, nn.SiLU)
    assert model.stages[0][0].attn.val_dim == 4
    assert model.stages[0][0].mlp.fc1.linear.out_features == 48
    assert model.stages[1][0].attn.val_dim == 8
    assert model.stages[1][0].mlp.fc1.linear.out_features == 24


def test_in_channels_and_drop_path():
    model = tiny(in_channels=1, drop_path_rate=0.3)
    assert model.patch_embed.convs[0].conv.in_channels == 1
    rates = {m.drop_prob for m in model.modules()
             if m.__class__.__name__ == 'DropPath'}
    assert rates == {0.3}
    x = torch.randn(4, 1, 64, 64)
    model.train()
    torch.manual_seed(0)
    a = model(x)[0]
    torch.manual_seed(1)
    b = model(x)[0]
    assert not torch.allclose(a, b)


def test_frozen_stages_and_with_cp():
    model = tiny(frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1].parameters())
    assert not model.stages[0][0].mlp.fc1.bn.training
    x = torch.randn(2, 3, 64, 64)
    a, b = tiny(with_cp=True).train(), tiny().train()
    torch.testing.assert_close(a(x)[0], b(x)[0])


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='levit-999'), 'Unknown arch'),
    (dict(arch=dict(TINY, num_heads=[2, 3])), 'one entry per stage'),
    (dict(arch=dict(TINY, depths=[0, 1, 1])), 'depths must be'),
    (dict(arch=dict(TINY, act='tanh')), 'Unknown act'),
    (dict(arch=dict(TINY, embed_dims=[12, 24, 32])), 'divisible by 8'),
    (dict(out_type='featmap', stem_out_strides=(16, )), 'stem strides'),
    (dict(stem_out_strides=(4, )), "needs out_type='featmap'"),
    (dict(out_type='cls_token'), 'Unknown out_type'),
])
def test_bad_arguments(kwargs, match):
    kwargs = dict(dict(arch=TINY, img_size=64), **kwargs)
    with pytest.raises(ValueError, match=match):
        LeViT(**kwargs)
    with pytest.raises(ValueError, match='images'):
        tiny()(torch.randn(3, 64, 64))


def test_out_types():
    model = tiny(out_type='raw', out_indices=(0, 2)).eval()
    x = torch.randn(2, 3, 64, 64)
    raw0, raw2 = model(x)
    assert raw0.shape == (2, 16, 16) and raw2.shape == (2, 1, 32)
    model.out_type = 'avg_featmap'
    assert torch.equal(model(x)[1], raw2.mean(1))
    model.out_type = 'featmap'
    torch.testing.assert_close(
        model(x)[0], raw0.transpose(1, 2).reshape(2, 16, 4, 4))


# ------------------------------------------------------------------ head
def test_head_distilled_and_plain():
    from mmpretrain.structures import DataSample
    feats = (torch.randn(4, 32), )
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    head = LeViTClsHead(10, 32).eval()
    cls, dist = head.forward_logits(feats)
    torch.testing.assert_close(head(feats), (cls + dist) / 2)
    assert set(head.loss(feats, samples)) == {'loss_cls', 'loss_distill'}
    plain = LeViTClsHead(10, 32, distilled=False).train()
    assert plain.head_dist is None
    loss = plain.loss(feats, samples)['loss']
    expected = nn.functional.cross_entropy(plain.head(feats[0]),
                                           torch.arange(4))
    torch.testing.assert_close(loss, expected)


# ----------------------------------------------------------- converter
def test_converter_layouts_and_errors(golden):
    official = dict(golden['state_dict'])
    timm_sd = timm_tiny(80, depth=(1, 1, 2)).state_dict()
    conv = get_converter('LeViT')
    assert conv.recognises(official) and conv.recognises(timm_sd)
    ours = classifier(img_size=80).state_dict()
    for sd in (official, timm_sd):
        assert set(convert_levit(sd)) == set(ours)
    assert not conv.recognises(ours)
    assert any('attention_bias_idxs' in k for k in official)
    with pytest.raises(KeyError, match='official'):
        convert_levit(dict(official, **{'blocks.3.m.extra': torch.ones(1)}))
    with pytest.raises(KeyError, match='timm'):
        convert_levit(dict(timm_sd, **{'stages.0.foo': torch.ones(1)}))


def test_official_and_timm_layouts_give_the_same_model(golden):
    """timm's weights are the official ones renamed: the official golden
    state dict, moved into a timm model by position, converts to the same
    tensors under the same keys."""
    ref = timm_tiny(80, depth=(1, 1, 2))
    official = {k: v for k, v in golden['state_dict'].items()
                if 'attention_bias_idxs' not in k}
    timm_keys = list(ref.state_dict())
    assert len(timm_keys) == len(official)
    # both layouts list their tensors in the same module order
    by_position = dict(zip(timm_keys, official.values()))
    a, b = convert_levit(official), convert_levit(by_position)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fused_path_runs_sdpa_where_it_is_faster(monkeypatch):
    """SDPA in inference; on CPU a bias that needs a gradient goes through
    the explicit path (torch's CPU SDPA would fall back to a slower math
    kernel for a differentiable mask)."""
    import mmvitplug.layers.attention as attention
    calls = []
    sdpa = attention.F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(kwargs['attn_mask'].shape)
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(attention.F, 'scaled_dot_product_attention',
                        counting)
    x = torch.randn(2, 3, 64, 64)
    model = tiny().eval()
    with torch.no_grad():
        model(x)
    assert len(calls) == 5 and calls[0] == (1, 2, 16, 16)
    calls.clear()
    model.train()(x)[0].sum().backward()
    assert not calls
    tiny(fused_attn=False).eval()(x)
    assert not calls


def test_cached_bias_follows_in_place_updates():
    """An in-place change of the table (an EMA swap, a step taken in eval
    mode) is seen by the next inference without calling train()/eval()."""
    model = tiny().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        fresh = tiny().eval()
        for net in (model, fresh):
            torch.manual_seed(5)
            for m in net.modules():
                if hasattr(m, 'attention_biases'):
                    m.attention_biases.add_(
                        torch.randn_like(m.attention_biases))
        after = model(x)[0]
        torch.testing.assert_close(after, fresh(x)[0])
    assert not torch.allclose(before, after)
