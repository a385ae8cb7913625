# Copyright (c) mmvitplug contributors.
"""PatchConvNet: golden parity with the official code, contract, layers.

``tests/data/patchconvnet_golden.pt`` was produced once from the official
code, ``patchconvnet_models.py`` of facebookresearch/deit at commit
7e160fe43f0252d17191b71cbb5826254114ea5b (file last changed in c798fd97),
with timm 1.0.31 (only its ``SqueezeExcite`` import path was adapted to
``timm.models._efficientnet_blocks``). It holds:

- ``input``: ``torch.randn(2, 3, 64, 64)`` from a generator seeded with 1.
- ``single``: ``PatchConvnet(patch_size=16, embed_dim=32, depth=2,
  num_heads=1, qkv_bias=True, num_classes=10, norm_layer=partial(
  nn.LayerNorm, eps=1e-6), mlp_ratio_clstk=3.0, depth_token_only=1)``
  whose parameters were then overwritten in ``named_parameters()`` order
  from a generator seeded with 2 (norm weights ``1 + 0.2 * randn``,
  ``gamma_*`` ``0.5 * randn``, other >= 2-d tensors ``randn / sqrt(fan_in)``,
  other 1-d tensors ``0.2 * randn``), so LayerScale does not hide the
  trunk; its ``state_dict()``, eval-mode ``forward`` logits and
  ``forward_features`` output on ``input``.
- ``multi``: the same with ``Attention_block_token_only=partial(
  Learned_Aggregation_Layer_multi, num_classes=10)``, ``multiclass=True``
  (the ``S60_multi`` construction at that size; the official block does not
  pass ``num_classes`` to the layer, hence the ``partial``), seed 3.
- ``num_params``: parameter counts of the official ``S60``, ``S120``,
  ``B60``, ``B120``, ``L60``, ``L120`` and ``S60_multi`` constructors
  (1000 classes), built on the 'meta' device.
"""
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters.patchconvnet import convert_patchconvnet
from mmvitplug.layers import ClassAttention, LayerNorm2d
from mmvitplug.layers.conv_stem import ConvStem
from mmvitplug.layers.squeeze_excite import SqueezeExcite
from mmvitplug.models.backbones.patchconvnet import PatchConvNet
from _builders import TEST_DATA, TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, ...) is checked for every family in test_contract.py;
# this file tests what is PatchConvNet-specific.
GOLDEN = osp.join(TEST_DATA, 'patchconvnet_golden.pt')
GOLDEN_ARCH = dict(embed_dims=32, num_layers=2)
ARCH = TINY_ARCHS['PatchConvNet']


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


tiny = partial(build_tiny, PatchConvNet)


def build_classifier(arch=GOLDEN_ARCH, num_classes=10, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.PatchConvNet', arch=arch,
                          **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=arch['embed_dims'] if isinstance(arch, dict)
                else PatchConvNet.arch_zoo[arch]['embed_dims'])))


# ------------------------------------------------------------ golden parity
@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, fused_attn):
    state = convert_patchconvnet({'model': golden['single']['state_dict']})
    model = build_classifier(fused_attn=fused_attn).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = model(golden['input'], mode='tensor')
        (feats, ) = model.backbone(golden['input'])
    torch.testing.assert_close(
        feats, golden['single']['features'], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        logits, golden['single']['logits'], atol=1e-5, rtol=1e-5)
    assert logits.abs().max() > 0.5  # the golden logits are not trivial


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_multi_class_tokens(golden, fused_attn):
    state = convert_patchconvnet(golden['multi']['state_dict'])
    model = PatchConvNet(
        GOLDEN_ARCH, num_cls_tokens=10, fused_attn=fused_attn).eval()
    model.load_state_dict(
        {k[9:]: v for k, v in state.items() if k.startswith('backbone.')},
        strict=True)
    with torch.no_grad():
        (tokens, ) = model(golden['input'])
    assert tokens.shape == (2, 10, 32)
    torch.testing.assert_close(
        tokens, golden['multi']['features'], atol=1e-5, rtol=1e-5)
    # per-class heads stacked by the converter: logit_i = w_i . token_i + b_i
    logits = (tokens * state['head.fc.weight']).sum(-1) + \
        state['head.fc.bias']
    torch.testing.assert_close(
        logits, golden['multi']['logits'], atol=1e-5, rtol=1e-5)


def test_golden_through_pretrained_init_cfg(golden, tmp_path):
    path = str(tmp_path / 'official.pth')
    torch.save({'model': golden['single']['state_dict']}, path)
    model = build_classifier(
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.'))
    model.init_weights()
    assert model.backbone.is_init
    model.backbone.init_weights()  # a second call must not re-initialise
    with torch.no_grad():
        (feats, ) = model.backbone.eval()(golden['input'])
    torch.testing.assert_close(
        feats, golden['single']['features'], atol=1e-5, rtol=1e-5)


OFFICIAL_COUNTS = {
    'patchconvnet-s60': ('S60', 25.2, 25_231_096),
    'patchconvnet-s120': ('S120', 47.7, 47_723_896),
    'patchconvnet-b60': ('B60', 99.4, 99_388_936),
    'patchconvnet-b120': ('B120', 188.6, 188_611_336),
    'patchconvnet-l60': ('L60', 176.0, 176_009_576),
    'patchconvnet-l120': ('L120', 334.3, 334_294_376),
}


@pytest.mark.parametrize('arch', sorted(OFFICIAL_COUNTS))
def test_parameter_counts(golden, arch):
    name, millions, exact = OFFICIAL_COUNTS[arch]
    with torch.device('meta'):
        model = PatchConvNet(arch)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == exact == golden['num_params'][name]
    assert round(count / 1e6, 1) == millions


def test_parameter_count_multi_class_tokens(golden):
    with torch.device('meta'):
        model = PatchConvNet('patchconvnet-s60', num_cls_tokens=1000)
    count = sum(p.numel() for p in model.parameters()) + 384 * 1000 + 1000
    assert count == golden['num_params']['S60_multi'] == 25_614_712


# ---------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert (model.embed_dims, model.num_layers, model.patch_size) == \
        (16, 3, 4)
    names = {n for n, _ in model.named_parameters()}
    for key in ('patch_embed.proj.0.weight', 'patch_embed.proj.2.weight',
                'blocks.2.norm1.weight', 'blocks.2.gamma_1',
                'blocks.2.attn.qkv_pos.0.weight',
                'blocks.2.attn.qkv_pos.2.bias',
                'blocks.2.attn.qkv_pos.4.conv_reduce.weight',
                'blocks.2.attn.qkv_pos.4.conv_expand.bias',
                'blocks.2.attn.qkv_pos.5.weight', 'cls_token',
                'blocks_token_only.0.attn.q.weight',
                'blocks_token_only.0.attn.proj.bias',
                'blocks_token_only.0.gamma_2',
                'blocks_token_only.0.mlp.fc2.weight', 'norm.weight'):
        assert key in names, key
    assert torch.all(model.blocks[1].gamma_1 == 0.5)
    assert model.blocks[0].attn.qkv_pos[2].groups == 16
    assert torch.all(
        PatchConvNet(dict(embed_dims=8, num_layers=1)).blocks[0].gamma_1 ==
        1e-6)
    zoo = {'s60': (384, 60, 1e-4), 's120': (384, 120, 1e-6),
           'b60': (768, 60, 1e-6), 'b120': (768, 120, 1e-6),
           'l60': (1024, 60, 1e-6), 'l120': (1024, 120, 1e-6)}
    for name, (dims, layers, init) in zoo.items():
        with torch.device('meta'):
            model = PatchConvNet(f'patchconvnet-{name}')
        assert (model.embed_dims, model.num_layers) == (dims, layers)
        assert model.arch_settings['init_values'] == init
    # dense outputs come from the trunk: no aggregation is built
    dense = tiny(out_type='featmap')
    assert dense.cls_token is None and len(dense.blocks_token_only) == 0
    assert isinstance(dense.norm, nn.Identity)


def test_cls_token_is_norm_of_attention_pooled_token():
    model = tiny().eval()
    dense = tiny(out_type='featmap').eval()
    dense.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 16, 24)
    (cls, ) = model(x)
    (fmap, ) = dense(x)
    assert cls.shape == (2, 16)
    torch.testing.assert_close(cls, model.aggregate(fmap))
    tokens = fmap.flatten(2).transpose(1, 2)
    block = model.blocks_token_only[0]
    token = model.cls_token.expand(2, -1, -1)
    token = token + block.gamma_1 * block.attn(
        block.norm1(torch.cat((token, tokens), 1)))
    token = token + block.gamma_2 * block.mlp(block.norm2(token))
    torch.testing.assert_close(cls, model.norm(token)[:, 0])


def test_num_cls_tokens_multi():
    model = tiny(num_cls_tokens=4).eval()
    assert model.cls_token.shape == (1, 4, 16)
    attn = model.blocks_token_only[0].attn
    assert attn.num_queries == 4 and not attn.keys_include_queries
    assert tiny().blocks_token_only[0].attn.keys_include_queries
    (out, ) = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 4, 16)
    assert not torch.allclose(out[:, 0], out[:, 1])


def test_aggregation_arguments():
    model = tiny(num_heads=4, mlp_ratio=2., depth_token_only=2,
                 qkv_bias=False, drop_rate=0.1, attn_drop_rate=0.2,
                 head_norm_cfg=dict(type='LN', eps=1e-3))
    assert len(model.blocks_token_only) == 2
    block = model.blocks_token_only[1]
    assert block.attn.num_heads == 4 and block.mlp.fc1.out_features == 32
    assert block.attn.q.bias is None and block.attn.v.bias is None
    assert block.attn.proj_drop.p == 0.1 and block.mlp.drop.p == 0.1
    assert block.attn.attn_drop.p == 0.2
    assert block.norm1.eps == 1e-3 and model.norm.eps == 1e-3
    assert model.blocks[0].norm1.eps == 1e-6
    (out, ) = model.eval()(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 16)


def test_norm_cfg_batchnorm_trunk():
    model = tiny(norm_cfg=dict(type='BN'), out_type='featmap')
    assert isinstance(model.blocks[0].norm1, nn.BatchNorm2d)
    assert isinstance(tiny().blocks[0].norm1, LayerNorm2d)
    model.train()(torch.randn(4, 3, 16, 16))
    assert model.blocks[0].norm1.num_batches_tracked == 1


def test_default_init():
    model = tiny()
    q = model.blocks_token_only[0].attn.q
    assert 0.015 < q.weight.std().item() < 0.025
    assert torch.all(q.bias == 0)
    assert 0.005 < model.cls_token.std().item() < 0.03
    assert torch.all(model.norm.weight == 1)
    assert torch.all(model.blocks[0].norm1.bias == 0)


def test_in_channels_and_patch_size():
    model = tiny(in_channels=1, patch_size=8, out_type='featmap')
    assert [m.in_channels for m in model.patch_embed.proj[::2]] == [1, 4, 8]
    assert model(torch.randn(1, 1, 32, 16))[0].shape == (1, 16, 4, 2)


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='s60'), "Unknown arch 's60'"),
    (dict(out_indices=(0, 2)), "'cls_token'.*last block"),
    (dict(out_indices=1), "'cls_token'.*last block"),
    (dict(num_cls_tokens=0), 'num_cls_tokens'),
    (dict(depth_token_only=0), 'depth_token_only'),
    (dict(patch_size=12), 'power of two'),
    (dict(num_heads=3), 'divisible by num_heads'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_pretrained_into_dense_backbone_logs_unused(golden, tmp_path):
    """Dense backbones have no aggregation: its weights are reported."""
    path = str(tmp_path / 'official.pth')
    torch.save({'model': golden['single']['state_dict']}, path)
    model = PatchConvNet(
        GOLDEN_ARCH, out_type='featmap',
        init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    state = golden['single']['state_dict']
    torch.testing.assert_close(model.blocks[1].gamma_1,
                               state['blocks.1.gamma_1'])
    torch.testing.assert_close(model.patch_embed.proj[6].weight,
                               state['patch_embed.proj.6.0.weight'])


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize('num_queries, include', [(1, True), (3, False),
                                                  (2, True)])
def test_attention_pool_fused_matches_explicit_and_formula(
        num_queries, include):
    torch.manual_seed(0)
    pool = ClassAttention(16, num_heads=2, num_queries=num_queries,
                          keys_include_queries=include).eval()
    x = torch.randn(2, 7, 16)
    out = pool(x)
    assert out.shape == (2, num_queries, 16)
    pool.fused_attn = False
    torch.testing.assert_close(out, pool(x), atol=1e-6, rtol=0)
    kv = x if include else x[:, num_queries:]
    q = pool.q(x[:, :num_queries]).unflatten(-1, (2, 8)).transpose(1, 2)
    k = pool.k(kv).unflatten(-1, (2, 8)).transpose(1, 2)
    v = pool.v(kv).unflatten(-1, (2, 8)).transpose(1, 2)
    attn = (q @ k.transpose(-2, -1) / 8**0.5).softmax(-1)
    ref = pool.proj((attn @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


def test_attention_pool_errors_and_dropout():
    with pytest.raises(ValueError, match='divisible by num_heads'):
        ClassAttention(10, num_heads=3)
    with pytest.raises(ValueError, match='num_queries'):
        ClassAttention(8, num_heads=1, num_queries=0)
    with pytest.raises(ValueError, match='more than num_queries'):
        ClassAttention(8, num_heads=1, num_queries=2)(torch.randn(1, 2, 8))
    pool = ClassAttention(8, num_heads=1, attn_drop=0.5,
                          qkv_bias=False).train()
    assert pool.q.bias is None
    x = torch.randn(4, 9, 8)
    assert not torch.allclose(pool(x), pool(x))


def test_squeeze_excite_formula():
    torch.manual_seed(0)
    se = SqueezeExcite(8, rd_ratio=0.5)
    assert se.conv_reduce.out_channels == 4
    x = torch.randn(2, 8, 5, 3)
    s = x.mean((2, 3))
    hidden = torch.relu(s @ se.conv_reduce.weight.flatten(1).T +
                        se.conv_reduce.bias)
    gate = torch.sigmoid(hidden @ se.conv_expand.weight.flatten(1).T +
                         se.conv_expand.bias)
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    with pytest.raises(ValueError, match='no hidden channel'):
        SqueezeExcite(2, rd_ratio=0.1)


def test_conv_stem_widths_and_errors():
    stem = ConvStem(16, 3, 64)
    convs = stem.proj[::2]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 8), (8, 16), (16, 32), (32, 64)]
    assert all(isinstance(a, nn.GELU) for a in stem.proj[1::2])
    assert all(c.bias is None and c.stride == (2, 2) for c in convs)
    assert stem(torch.randn(1, 3, 32, 64)).shape == (1, 64, 2, 4)
    assert len(ConvStem(2, 3, 8).proj) == 1
    with pytest.raises(ValueError, match='divisible by patch_size / 2'):
        ConvStem(16, 3, 12)
    with pytest.raises(ValueError, match='power of two'):
        ConvStem(1, 3, 8)


# --------------------------------------------------------------- converter
def test_converter_keys_match_classifier(golden):
    state = convert_patchconvnet(golden['single']['state_dict'])
    model = build_classifier()
    assert set(state) == set(model.state_dict())
    assert state['backbone.patch_embed.proj.4.weight'] is \
        golden['single']['state_dict']['patch_embed.proj.4.0.weight']
    assert convert_patchconvnet({'model': golden['single']['state_dict']
                                 }).keys() == state.keys()


def test_converter_stacks_multi_class_heads(golden):
    official = golden['multi']['state_dict']
    state = convert_patchconvnet(official)
    assert state['head.fc.weight'].shape == (10, 32)
    assert state['head.fc.bias'].shape == (10, )
    torch.testing.assert_close(state['head.fc.weight'][7],
                               official['head.7.weight'][0])
    torch.testing.assert_close(state['head.fc.bias'][3],
                               official['head.3.bias'][0])
    broken = {k: v for k, v in official.items() if k != 'head.4.weight'}
    with pytest.raises(KeyError, match='not numbered 0..K-1'):
        convert_patchconvnet(broken)


def test_converter_unknown_keys(golden):
    bad = dict(golden['single']['state_dict'])
    bad['pos_embed'] = torch.zeros(1)
    bad['blocks.0.attn.qkv_pos.3.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match="2 key.*'pos_embed'"):
        convert_patchconvnet(bad)


@pytest.mark.parametrize('fused_attn', [True, False])
def test_multi_token_classifier_matches_golden_and_trains(golden, fused_attn):
    """The multi-class-token variant end to end in an ImageClassifier."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='mmvitplug.PatchConvNet', arch=GOLDEN_ARCH,
                num_cls_tokens=10, fused_attn=fused_attn),
            head=dict(
                type='mmvitplug.MultiTokenClsHead', num_classes=10,
                in_channels=32)))
    model.load_state_dict(
        convert_patchconvnet(golden['multi']['state_dict']), strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(golden['input'], mode='tensor')
    torch.testing.assert_close(
        logits, golden['multi']['logits'], atol=1e-5, rtol=1e-5)
    model.train()
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    losses = model.loss(golden['input'], samples)
    losses['loss'].backward()
    assert model.head.fc.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)


def test_multi_token_head_rejects_single_token_backbones():
    from mmvitplug.models.heads import MultiTokenClsHead
    head = MultiTokenClsHead(num_classes=10, in_channels=32)
    with pytest.raises(TypeError, match='num_cls_tokens=num_classes'):
        head((torch.randn(2, 32), ))
    with pytest.raises(ValueError, match='positive integer'):
        MultiTokenClsHead(num_classes=0, in_channels=32)
