# Copyright (c) mmvitplug contributors.
"""CCT: golden parity with the official code, tokenizer, blocks, pooling.

``tests/data/cct_golden.pt`` was produced once from the official code,
``src/cct.py``, ``src/utils/{tokenizer,transformers,helpers,
stochastic_depth}.py`` and ``src/registry.py`` of
SHI-Labs/Compact-Transformers at commit
cd11f0912749d376f7465cb83534e768b6701d7d, copied unchanged into a scratch
``src/`` package with empty ``__init__.py`` files (the repository's import
the CvT / ViT files too), with torch 2.13.0 and timm 1.0.31. Every model was
built after ``torch.manual_seed(0)``, then its trainable parameters were
overwritten in ``named_parameters()`` order from a generator seeded with
the case's seed (norm weights ``1 + 0.2 * randn``, ``positional_emb``
``0.5 * randn``, other >= 2-d tensors ``randn / sqrt(fan_in)``, other 1-d
tensors ``0.2 * randn``; the fixed sine embedding was left alone), so
nothing hides behind an initial value, and run in eval mode. It holds:

- ``input32``: ``torch.randn(2, 3, 32, 32)`` from a generator seeded with 1,
  ``input48``: then ``torch.randn(2, 3, 48, 48)`` from the same generator.
- ``learnable`` (seed 2): ``CCT(img_size=32, embedding_dim=16,
  n_conv_layers=2, kernel_size=3, stride=1, padding=1, num_layers=2,
  num_heads=2, mlp_ratio=2, num_classes=10)``: ``state_dict``, logits on
  ``input32`` and ``features`` (the input of ``classifier.fc``, i.e. the
  sequence-pooled tokens).
- ``learnable_resized48``: the same constructor with ``img_size=48``
  loading ``pe_check(model, learnable state_dict)`` (the official loader:
  bilinear resize of the position embedding), features and logits on
  ``input48``.
- ``sine`` (seed 3): as ``learnable`` with ``n_conv_layers=1,
  positional_embedding='sine'``.
- ``imagenet_style`` (seed 4): ``CCT(img_size=32, embedding_dim=24,
  n_conv_layers=1, kernel_size=7, stride=2, padding=3, num_layers=2,
  num_heads=2, mlp_ratio=3, num_classes=10)`` on ``input32``.
- ``num_params``: (parameter count, classes) of the official constructors
  ``cct_{2_3x2,4_3x2,6_3x1,6_3x2,7_3x1,7_3x2}_32``, ``cct_7_7x2_224``,
  ``cct_14_7x2_{224,384}`` with their default classes, and with
  ``num_classes=1000`` (``<name>_1000``).
"""
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import get_converter
from mmvitplug.converters.cct import convert_cct
from mmvitplug.layers import DropPath
from mmvitplug.models.backbones.cct import (CCT, CCTBlock, ConvTokenizer,
                                            SeqPool, sine_pos_embed)
from _builders import TEST_DATA, TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, position-embedding resizing, fused attention ...) is checked for
# every family in test_contract.py; this file tests what is CCT-specific.
GOLDEN = osp.join(TEST_DATA, 'cct_golden.pt')
CIFAR = dict(embed_dims=16, num_layers=2, num_heads=2,
             feedforward_channels=32, kernel_size=3, num_conv_layers=2)
GOLDEN_CASES = {
    'learnable': (CIFAR, dict(img_size=32)),
    'sine': (dict(CIFAR, num_conv_layers=1), dict(img_size=32,
                                                  pos_embed='sine')),
    'imagenet_style': (dict(embed_dims=24, num_layers=2, num_heads=2,
                            feedforward_channels=72, kernel_size=7,
                            num_conv_layers=1), dict(img_size=32)),
}
ARCH = TINY_ARCHS['CCT']

tiny = partial(build_tiny, CCT)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def build_classifier(arch, num_classes=10, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.CCT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=arch['embed_dims'])))


def randomize(module, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())
    return module


# ------------------------------------------------------------ golden parity
@pytest.mark.parametrize('case', sorted(GOLDEN_CASES))
@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, case, fused_attn):
    arch, kwargs = GOLDEN_CASES[case]
    state = convert_cct(golden[case]['state_dict'])
    model = build_classifier(arch, fused_attn=fused_attn, **kwargs).eval()
    if kwargs.get('pos_embed') == 'sine':
        # the fixed official table: recomputed by the backbone, unexpected
        torch.testing.assert_close(
            state.pop('backbone.pos_embed'), sine_pos_embed(256, 16),
            atol=0, rtol=0)
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = model(golden['input32'], mode='tensor')
        (feats, ) = model.backbone(golden['input32'])
    torch.testing.assert_close(
        feats, golden[case]['features'], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        logits, golden[case]['logits'], atol=1e-5, rtol=1e-5)
    assert logits.abs().max() > 0.5  # the golden logits are not trivial


@pytest.mark.parametrize('on_load', [False, True])
def test_golden_position_embedding_resized_like_official(
        golden, on_load, tmp_path):
    """A 32x32 checkpoint on 48x48 images: resized on the fly, or resized
    when loaded into a model made for 48 (through the Pretrained init_cfg
    and the registered converter), both as the official ``pe_check``."""
    official = golden['learnable']['state_dict']
    if on_load:
        path = str(tmp_path / 'official.pth')
        torch.save(official, path)
        model = CCT(CIFAR, img_size=48, init_cfg=dict(
            type='Pretrained', checkpoint=path))
        model.init_weights()
        assert model.pos_embed.shape == (1, 144, 16)
    else:
        model = CCT(CIFAR, img_size=32)
        model.load_state_dict({
            k[9:]: v
            for k, v in convert_cct(official).items()
            if k.startswith('backbone.')
        })
    with torch.no_grad():
        (feats, ) = model.eval()(golden['input48'])
    torch.testing.assert_close(
        feats, golden['learnable_resized48']['features'], atol=1e-5,
        rtol=1e-5)
    model.interpolate_mode = 'bicubic'
    if not on_load:  # a different resize gives different features
        assert not torch.allclose(
            model(golden['input48'])[0],
            golden['learnable_resized48']['features'], atol=1e-3)


OFFICIAL = {
    'cct-2-3x2': 'cct_2_3x2_32',
    'cct-4-3x2': 'cct_4_3x2_32',
    'cct-6-3x1': 'cct_6_3x1_32',
    'cct-6-3x2': 'cct_6_3x2_32',
    'cct-7-3x1': 'cct_7_3x1_32',
    'cct-7-3x2': 'cct_7_3x2_32',
    'cct-7-7x2': 'cct_7_7x2_224',
    'cct-14-7x2': 'cct_14_7x2_224',
    'cct-14-7x2-384': 'cct_14_7x2_384',
}
#: official README counts (M, truncated to two decimals)
README = {'cct-14-7x2': 22.36, 'cct-14-7x2-384': 22.51}


def test_zoo_is_the_official_one():
    assert sorted(CCT.arch_zoo) == sorted(OFFICIAL)


@pytest.mark.parametrize('arch', sorted(OFFICIAL))
def test_parameter_counts(golden, arch):
    with torch.device('meta'):
        model = CCT(arch)
    backbone = sum(p.numel() for p in model.parameters())
    for suffix in ('', '_1000'):
        count, classes = golden['num_params'][OFFICIAL[arch] + suffix]
        assert backbone + model.embed_dims * classes + classes == count
    if arch in README:
        count, classes = golden['num_params'][OFFICIAL[arch]]
        assert count // 10_000 / 100 == README[arch]
    assert golden['num_params']['cct_14_7x2_224'][0] == 22_367_273


# ---------------------------------------------------------------- backbone
def test_zoo_settings_and_strides():
    expected = {  # dims, layers, heads, ffn, kernel, convs, stride, img
        'cct-7-3x1': (256, 7, 4, 512, 3, 1, 2, 32),
        'cct-6-3x2': (256, 6, 4, 512, 3, 2, 4, 32),
        'cct-2-3x2': (128, 2, 2, 128, 3, 2, 4, 32),
        'cct-7-7x2': (256, 7, 4, 512, 7, 2, 16, 224),
        'cct-14-7x2': (384, 14, 6, 1152, 7, 2, 16, 224),
        'cct-14-7x2-384': (384, 14, 6, 1152, 7, 2, 16, 384),
    }
    for name, (dims, layers, heads, ffn, k, n, stride, size) in \
            expected.items():
        with torch.device('meta'):
            model = CCT(name)
        tok = model.tokenizer
        assert (model.embed_dims, model.num_layers) == (dims, layers)
        assert model.blocks[0].attn.num_heads == heads
        assert model.blocks[0].mlp.fc1.out_features == ffn
        assert model.patch_size == stride
        assert len(tok.conv_layers) == n
        conv = tok.conv_layers[0][0]
        # official defaults: stride max(1, k // 2 - 1), padding max(1, k//2)
        assert conv.kernel_size == (k, k)
        assert conv.stride == ((2, 2) if k == 7 else (1, 1))
        assert conv.padding == ((3, 3) if k == 7 else (1, 1))
        assert tok.img_size == (size, size)
        assert model.pos_embed.shape[1] == (size // stride)**2


def test_parameter_names_follow_official():
    model = tiny()
    names = {n for n, _ in model.named_parameters()}
    assert {'tokenizer.conv_layers.0.0.weight',
            'tokenizer.conv_layers.1.0.weight', 'pos_embed',
            'blocks.2.norm1.weight', 'blocks.2.attn.qkv.weight',
            'blocks.2.attn.proj.bias', 'blocks.2.norm2.bias',
            'blocks.2.mlp.fc1.weight', 'blocks.2.mlp.fc2.bias',
            'norm.weight', 'attention_pool.weight',
            'attention_pool.bias'} <= names
    assert model.blocks[0].attn.qkv.bias is None  # official: no qkv bias
    assert tiny(qkv_bias=True).blocks[0].attn.qkv.bias is not None
    # dense outputs: no pooling built
    assert tiny(out_type='featmap').attention_pool is None


def test_tokenizer_layers_and_any_input_size():
    tok = ConvTokenizer(3, 16, 2, 3, 1, 1, hidden_channels=8)
    convs = [s[0] for s in tok.conv_layers]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 8),
                                                                (8, 16)]
    assert all(c.bias is None for c in convs)
    assert all(isinstance(s[1], nn.ReLU) for s in tok.conv_layers)
    pool = tok.conv_layers[0][2]
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    x = torch.randn(2, 3, 30, 37)
    tokens, hw = tok(x)
    assert hw == (8, 10) == tok.out_size((30, 37))
    ref = x
    for conv in convs:  # conv -> ReLU -> max-pool, by hand
        ref = torch.max_pool2d(torch.relu(conv(ref)), 3, 2, 1)
    torch.testing.assert_close(tokens, ref.flatten(2).transpose(1, 2))
    no_pool = ConvTokenizer(3, 16, 1, 7, 2, 3, pool=False)
    assert isinstance(no_pool.conv_layers[0][2], nn.Identity)
    assert no_pool.stride_total == 2
    assert no_pool(torch.randn(1, 3, 9, 9))[1] == (5, 5)
    for size in (1, 5, 33):  # the arithmetic is the layers' own
        for t in (tok, no_pool, ConvTokenizer(3, 4, 2, 7, 2, 3)):
            out = t(torch.randn(1, 3, size, size + 3))[1]
            assert out == t.out_size((size, size + 3))
    with pytest.raises(ValueError, match='num_conv_layers must be >= 1'):
        ConvTokenizer(3, 16, 0, 3, 1, 1)


def test_odd_input_sizes_and_featmap_grid():
    model = tiny(out_type='featmap').eval()
    (fmap, ) = model(torch.randn(2, 3, 18, 29))
    assert fmap.shape == (2, 32, 5, 8) and fmap.is_contiguous()


def test_too_small_inputs_raise():
    model = tiny(arch=dict(ARCH, conv_padding=0))
    with pytest.raises(ValueError,
                       match=r'2x9 input is too small.*0x1 token grid'):
        model(torch.randn(1, 3, 2, 9))
    with pytest.raises(ValueError, match='img_size 2x2 is too small'):
        tiny(arch=dict(ARCH, conv_padding=0), img_size=2)


def test_block_norm_placement():
    """x = norm2(x + attn(norm1(x))); x = x + mlp(x) (official order)."""
    block = randomize(CCTBlock(16, 2, 32)).eval()
    x = torch.randn(2, 7, 16)
    y = block.norm2(x + block.attn(block.norm1(x)))
    torch.testing.assert_close(block(x), y + block.mlp(y))
    block.attn.fused_attn = False
    torch.testing.assert_close(block(x), y + block.mlp(y))


def test_block_dropouts_and_drop_path():
    block = CCTBlock(16, 2, 32, drop=0.1, attn_drop=0.2, drop_path=0.3)
    assert block.attn.proj_drop.p == 0.1 and block.mlp.drop.p == 0.1
    assert block.attn.attn_drop.p == 0.2
    assert isinstance(block.drop_path, DropPath)
    assert block.drop_path.drop_prob == 0.3
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2, drop_path_rate=0.3)
    assert model.pos_drop.p == 0.1
    assert model.blocks[2].attn.attn_drop.p == 0.2
    assert isinstance(model.blocks[0].drop_path, nn.Identity)
    assert model.blocks[1].drop_path.drop_prob == pytest.approx(0.15)


def test_seq_pool_formula_fused_explicit_and_bias():
    torch.manual_seed(0)
    pool = randomize(SeqPool(8))
    x = torch.randn(3, 5, 8)
    weights = torch.softmax(x @ pool.weight.T + pool.bias, dim=1)  # B N 1
    ref = (weights * x).sum(1)
    torch.testing.assert_close(pool(x), ref, atol=1e-6, rtol=0)
    pool.fused_attn = False
    torch.testing.assert_close(pool(x), ref, atol=1e-6, rtol=0)
    # the bias shifts every logit alike: the pooling ignores it
    with torch.no_grad():
        pool.bias.add_(5.)
    for fused in (True, False):
        pool.fused_attn = fused
        torch.testing.assert_close(pool(x), ref, atol=1e-5, rtol=0)


def test_seq_pool_output_is_pooled_final_norm():
    model = randomize(tiny()).eval()
    raw_model = tiny(out_type='raw')
    raw_model.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 16, 16)
    (raw, ) = raw_model.eval()(x)  # normalised final tokens
    (pooled, ) = model(x)
    weights = torch.softmax(
        raw @ model.attention_pool.weight.T + model.attention_pool.bias, 1)
    torch.testing.assert_close(pooled, (weights * raw).sum(1))
    assert pooled.shape == (2, 32)


def test_sine_embedding_official_formula_and_recomputed():
    n, dim = 24, 6
    pe = torch.FloatTensor([[p / (10000**(2 * (i // 2) / dim))
                             for i in range(dim)] for p in range(n)])
    pe[:, 0::2] = torch.sin(pe[:, 0::2])
    pe[:, 1::2] = torch.cos(pe[:, 1::2])
    torch.testing.assert_close(sine_pos_embed(n, dim), pe[None], atol=0,
                               rtol=0)
    model = tiny(pos_embed='sine', final_norm=False, out_type='raw')
    assert model.pos_embed is None
    assert all(p.requires_grad for p in model.parameters())
    x = torch.randn(1, 3, 16, 24)
    tokens, _ = model.tokenizer(x)
    # recomputed for the 4x6 grid (24 tokens), as an official model made
    # for that size
    torch.testing.assert_close(
        model.embed(x)[0], tokens + sine_pos_embed(24, 32))


def test_no_position_embedding():
    model = tiny(pos_embed='none')
    assert model.pos_embed is None
    x = torch.randn(1, 3, 16, 20)
    torch.testing.assert_close(model.embed(x)[0], model.tokenizer(x)[0])


def test_default_init_official():
    model = tiny(arch=dict(ARCH, embed_dims=64, conv_channels=64))
    assert 0.17 < model.pos_embed.std().item() < 0.23
    # official trunc_normal_(std=0.2) truncates at +-2 (10 std): none
    assert model.pos_embed.abs().max() > 0.5
    conv = model.tokenizer.conv_layers[1][0]
    fan_in = conv.weight[0].numel()
    std = conv.weight.std().item() * (fan_in / 2)**0.5  # Kaiming: 1
    assert 0.9 < std < 1.1
    fc1 = model.blocks[0].mlp.fc1
    assert 0.015 < fc1.weight.std().item() < 0.025
    assert torch.all(fc1.bias == 0)
    assert 0.005 < model.attention_pool.weight.std().item() < 0.03
    assert torch.all(model.attention_pool.bias == 0)
    assert torch.all(model.norm.weight == 1)


def test_other_arguments():
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3), in_channels=1,
                 img_size=(16, 24), arch=dict(ARCH, conv_channels=4,
                                              conv_stride=2,
                                              conv_padding=2))
    assert model.blocks[0].norm1.eps == 1e-3 and model.norm.eps == 1e-3
    conv = model.tokenizer.conv_layers[0][0]
    assert (conv.in_channels, conv.out_channels) == (1, 4)
    assert (conv.stride, conv.padding) == ((2, 2), (2, 2))
    assert model.patch_size == 16
    # 16 -> 9 -> 5 -> 4 -> 2, 24 -> 13 -> 7 -> 5 -> 3
    assert model.tokenizer.grid_size == (2, 3)
    assert model.pos_embed.shape == (1, 6, 32)
    assert tiny(pool=False).patch_size == 1
    assert tiny().blocks[0].norm1.eps == 1e-5  # official LayerNorm


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='cct-14'), "Unknown arch 'cct-14'"),
    (dict(pos_embed='learned'), "Unknown pos_embed 'learned'"),
    (dict(arch=dict(ARCH, num_conv_layers=0)), 'num_conv_layers'),
    (dict(out_indices=1), "'seq_pool'.*last of the 3"),
    (dict(arch=dict(ARCH, num_heads=3)), 'divisible by num_heads'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


# --------------------------------------------------------------- converter
def test_converter_keys_match_classifier(golden):
    official = golden['learnable']['state_dict']
    state = convert_cct(official)
    model = build_classifier(CIFAR, img_size=32)
    assert set(state) == set(model.state_dict())
    assert state['backbone.blocks.1.norm2.weight'] is \
        official['classifier.blocks.1.norm1.weight']
    assert state['backbone.blocks.0.norm1.bias'] is \
        official['classifier.blocks.0.pre_norm.bias']
    assert state['head.fc.weight'] is official['classifier.fc.weight']
    converter = get_converter('CCT')
    assert converter.recognises(official)
    assert converter.recognises({f'module.{k}': v
                                 for k, v in official.items()})
    assert not converter.recognises(state)


def test_converter_unknown_keys(golden):
    bad = dict(golden['learnable']['state_dict'])
    bad['classifier.class_emb'] = torch.zeros(1, 1, 16)
    bad['tokenizer.conv_layers.0.1.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"2 key.*'classifier.class_emb'"):
        convert_cct(bad)
