# Copyright (c) mmvitplug contributors.
"""CvT: golden parity with the official code, converter, CvT specifics.

``tests/data/cvt_golden.pt`` was produced once from the official code,
``lib/models/cls_cvt.py`` of microsoft/CvT at commit
f851e681966390779b71380d2600b52360ff4fe1 (identical in
leoxiaobin/CvT 46ab3c8), with timm 1.0.31 and torch 2.13; only its imports
were adapted (``from torch._six import container_abcs`` ->
``import collections.abc as container_abcs``, the relative ``registry``
import made absolute). It holds:

- ``state_dict``: ``ConvolutionalVisionTransformer(in_chans=3,
  num_classes=10, act_layer=QuickGELU, norm_layer=partial(LayerNorm,
  eps=1e-5), init='trunc_norm', spec=...)`` (what ``get_cls_model`` builds)
  with the spec of ``experiments/imagenet/cvt/cvt-13-224x224.yaml`` except
  ``DIM_EMBED=[8, 16, 24]``, ``NUM_HEADS=[1, 2, 3]``, ``DEPTH=[1, 1, 2]``,
  built after ``torch.manual_seed(0)``; its parameters were then
  overwritten in ``named_parameters()`` order from a generator seeded with
  2 (1-d ``*weight`` (LN / BN) ``1 + 0.2 * randn``, other >= 2-d tensors
  ``randn / sqrt(fan_in)``, the class token and other 1-d tensors
  ``0.2 * randn`` (+ ``0.5 * randn`` for the class token)), then the BN
  ``running_mean`` ``0.2 * randn`` and ``running_var`` ``1 + 0.5 * rand``,
  so nothing hides behind the init.
- ``input``: ``torch.randn(2, 3, 48, 64)`` (generator seed 1) and
  ``input_odd``: ``torch.randn(1, 3, 37, 29)`` (seed 3), each as
  ``images`` with the eval-mode ``logits`` (for batch 1 the official
  ``forward_features`` squeezes the batch axis too: logits (10, )),
  ``features`` (``forward_features``), ``stages`` (the (B, C, H, W) map
  each ``stage{i}`` returns) and ``cls_token`` (the last stage's class
  token before the final norm).
- ``num_params``: parameter counts of the official CvT-13, CvT-21 and
  CvT-W24 (1000 classes; the yaml specs), built on the CPU.
"""
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import convert_cvt, get_converter
from mmvitplug.layers import DropPath
from mmvitplug.models.backbones.cvt import (ConvProjectionAttention, CvT,
                                            QuickGELU)
from _builders import TEST_DATA, TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, featmap shapes at several sizes...) is checked in
# test_contract_staged.py; this file tests what is CvT-specific.
GOLDEN = osp.join(TEST_DATA, 'cvt_golden.pt')
GOLDEN_ARCH = dict(embed_dims=(8, 16, 24), num_heads=(1, 2, 3),
                   depths=(1, 1, 2))
ARCH = TINY_ARCHS['CvT']
tiny = partial(build_tiny, CvT)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def build_classifier(arch=GOLDEN_ARCH, num_classes=10, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.CvT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=arch['embed_dims'][-1])))


def backbone_state(state):
    return {k[9:]: v for k, v in state.items() if k.startswith('backbone.')}


# ------------------------------------------------------------ golden parity
@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('key', ['input', 'input_odd'])
def test_golden_parity_classifier(golden, fused_attn, key):
    state = convert_cvt(golden['state_dict'])
    model = build_classifier(fused_attn=fused_attn).eval()
    model.load_state_dict(state, strict=True)
    ref = golden[key]
    with torch.no_grad():
        logits = model(ref['images'], mode='tensor')
        (feats, ) = model.backbone(ref['images'])
    torch.testing.assert_close(
        feats, ref['features'].reshape(feats.shape), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        logits, ref['logits'].reshape(logits.shape), atol=1e-5, rtol=1e-5)
    assert logits.abs().max() > 0.5  # the golden logits are not trivial


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('key', ['input', 'input_odd'])
def test_golden_parity_stages(golden, fused_attn, key):
    """Every stage's map (any input size: 48x64 and 37x29) and the class
    token."""
    state = backbone_state(convert_cvt(golden['state_dict']))
    dense = CvT(GOLDEN_ARCH, out_type='featmap', out_indices=(0, 1, 2),
                fused_attn=fused_attn).eval()
    raw = CvT(GOLDEN_ARCH, out_type='raw', fused_attn=fused_attn).eval()
    assert dense.load_state_dict(state, strict=False).unexpected_keys == [
        'norm.weight', 'norm.bias'
    ]  # the final norm is built for out_type='cls_token' only
    raw.load_state_dict(state, strict=False)
    ref = golden[key]
    with torch.no_grad():
        maps = dense(ref['images'])
        (tokens, ) = raw(ref['images'])
    for i, (out, expected) in enumerate(zip(maps, ref['stages'])):
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5,
                                   msg=f'stage {i}')
    torch.testing.assert_close(tokens[:, :1], ref['cls_token'], atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(
        tokens[:, 1:].transpose(1, 2).reshape(maps[-1].shape), maps[-1])


def test_golden_through_pretrained_init_cfg(golden, tmp_path):
    """A bare official state dict (as released) through the init_cfg."""
    path = str(tmp_path / 'official.pth')
    torch.save(golden['state_dict'], path)
    model = build_classifier(
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.'))
    model.init_weights()
    assert model.backbone.is_init
    with torch.no_grad():
        (feats, ) = model.backbone.eval()(golden['input']['images'])
    torch.testing.assert_close(
        feats, golden['input']['features'], atol=1e-5, rtol=1e-5)


OFFICIAL_COUNTS = {
    'cvt-13': (19.997, 19_997_480),
    'cvt-21': (31.623, 31_622_696),
    'cvt-w24': (277.196, 277_196_392),
}


@pytest.mark.parametrize('arch', sorted(OFFICIAL_COUNTS))
def test_parameter_counts(golden, arch):
    millions, exact = OFFICIAL_COUNTS[arch]
    with torch.device('meta'):
        model = CvT(arch)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims[-1] * 1000 + 1000  # ImageNet classifier
    assert count == exact == golden['num_params'][arch]
    assert round(count / 1e6, 3) == millions


# ---------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert model.embed_dims == [16, 24, 32]
    assert (model.patch_size, model.num_layers, model.depths) == \
        (4, 4, [1, 1, 2])
    # stage 0: its blocks (its embedding is the stem); later stages: the
    # embedding, then the blocks; the class token in the last embedding
    assert [len(s) for s in model.stages] == [1, 2, 3]
    names = {n for n, _ in model.named_parameters()}
    for key in ('patch_embed.proj.weight', 'patch_embed.norm.bias',
                'stages.0.0.norm1.weight',
                'stages.0.0.attn.conv_proj_q.conv.weight',
                'stages.0.0.attn.conv_proj_v.bn.weight',
                'stages.0.0.attn.proj_k.bias', 'stages.0.0.attn.proj.weight',
                'stages.0.0.mlp.fc2.weight', 'stages.1.0.proj.weight',
                'stages.2.0.norm.weight', 'stages.2.0.cls_token',
                'stages.2.2.norm2.bias', 'norm.weight'):
        assert key in names, key
    assert model.patch_embed.cls_token is None
    assert model.stages[1][0].cls_token is None
    zoo = {'cvt-13': ((64, 192, 384), (1, 3, 6), (1, 2, 10)),
           'cvt-21': ((64, 192, 384), (1, 3, 6), (1, 4, 16)),
           'cvt-w24': ((192, 768, 1024), (3, 12, 16), (2, 2, 20))}
    for name, (dims, heads, depths) in zoo.items():
        with torch.device('meta'):
            model = CvT(name)
        assert model.embed_dims == list(dims)
        assert model.depths == list(depths)
        assert [s[-1].attn.num_heads for s in model.stages] == list(heads)
    # official token embeddings: kernels 7/3/3, strides 4/2/2, pads 2/1/1
    convs = [model.patch_embed.proj] + [s[0].proj for s in model.stages[1:]]
    assert [(c.kernel_size, c.stride, c.padding) for c in convs] == [
        ((7, 7), (4, 4), (2, 2)), ((3, 3), (2, 2), (1, 1)),
        ((3, 3), (2, 2), (1, 1))
    ]


def test_attention_scale_is_the_full_width_and_kv_are_strided():
    attn = tiny().stages[2][1].attn
    assert attn.scale == 32**-0.5  # not the head width's 16 ** -0.5
    assert attn.conv_proj_q.conv.stride == (1, 1)
    assert attn.conv_proj_k.conv.stride == attn.conv_proj_v.conv.stride == \
        (2, 2)
    assert attn.conv_proj_k.conv.groups == 32  # depthwise
    assert attn.conv_proj_k.conv.bias is None


def explicit_attention(attn, x, hw, num_extra):
    """The official computation, written out."""
    B, N, C = x.shape
    maps = x[:, num_extra:].transpose(1, 2).reshape(B, C, *hw)
    qkv = []
    for name in 'qkv':
        t = getattr(attn, f'conv_proj_{name}')(maps).flatten(2).transpose(
            1, 2)
        t = torch.cat((x[:, :num_extra], t), 1)
        t = getattr(attn, f'proj_{name}')(t)
        qkv.append(t.reshape(B, -1, attn.num_heads, C // attn.num_heads)
                   .transpose(1, 2))
    q, k, v = qkv
    w = (q @ k.transpose(-2, -1) * C**-0.5).softmax(-1)
    return attn.proj((w @ v).transpose(1, 2).reshape(B, N, C))


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('stride_kv, kernel', [(2, 3), (1, 3), (3, 5)])
def test_conv_projection_attention(fused_attn, stride_kv, kernel):
    torch.manual_seed(0)
    attn = ConvProjectionAttention(12, 3, kernel_size=kernel,
                                   stride_kv=stride_kv,
                                   fused_attn=fused_attn)
    for m in attn.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.weight.data.normal_()
    attn.eval()
    x = torch.randn(2, 1 + 5 * 7, 12, requires_grad=True)
    out = attn(x, (5, 7), 1)
    ref = explicit_attention(attn, x, (5, 7), 1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g1, = torch.autograd.grad(out.square().sum(), x)
    g2, = torch.autograd.grad(ref.square().sum(), x)
    torch.testing.assert_close(g1, g2, atol=1e-5, rtol=1e-5)
    assert attn.conv_proj_k.conv.kernel_size == (kernel, kernel)
    # k / v maps: stride_kv, 'same' padding
    keys = attn.conv_proj_k(x[:, 1:].detach().transpose(1, 2).reshape(
        2, 12, 5, 7))
    assert keys.shape[2:] == ((5 - 1) // stride_kv + 1,
                              (7 - 1) // stride_kv + 1)


def test_constructor_arguments():
    base = tiny()
    assert isinstance(base.stages[0][0].mlp.act, QuickGELU)
    assert isinstance(tiny(act_type='gelu').stages[0][0].mlp.act, nn.GELU)
    assert tiny(mlp_ratio=2).stages[1][1].mlp.fc1.out_features == 48
    assert base.stages[1][1].mlp.fc1.out_features == 96
    assert base.stages[0][0].attn.proj_q.bias is not None
    no_bias = tiny(qkv_bias=False).stages[0][0].attn
    assert all(getattr(no_bias, f'proj_{n}').bias is None for n in 'qkv')
    assert no_bias.proj.bias is not None
    assert tiny(qkv_kernel_size=5).stages[0][0].attn.conv_proj_q.conv \
        .kernel_size == (5, 5)
    assert tiny(stride_kv=1).stages[0][0].attn.conv_proj_k.conv.stride == \
        (1, 1)
    norm = tiny(norm_cfg=dict(type='LN', eps=1e-6))
    assert norm.patch_embed.norm.eps == norm.stages[2][2].norm2.eps == 1e-6
    assert base.patch_embed.norm.eps == 1e-5
    x = torch.randn(2, 3, 32, 32)
    # QuickGELU and GELU differ
    gelu = tiny(act_type='gelu').eval()
    gelu.load_state_dict(base.state_dict())
    assert not torch.allclose(base.eval()(x)[0], gelu(x)[0])


@pytest.mark.parametrize('kwargs', [
    dict(drop_rate=0.5),
    dict(attn_drop_rate=0.5),
])
def test_dropouts_act_in_training_only(kwargs):
    model = tiny(**kwargs)
    x = torch.randn(2, 3, 32, 32)
    ref = tiny().eval()
    model.eval()
    torch.testing.assert_close(model(x)[0], ref(x)[0])
    model.train()
    ref.train()
    assert not torch.allclose(model(x)[0], ref(x)[0])


def test_drop_path_rate_per_stage_is_the_official_schedule():
    model = tiny(drop_path_rate=(0., 0.1, 0.3))
    rates = [[
        m.drop_path.drop_prob if isinstance(m.drop_path, DropPath) else 0.
        for m in stage if hasattr(m, 'drop_path')
    ] for stage in model.stages]
    # linspace(0, rate, depth) in each stage (official DROP_PATH_RATE)
    assert rates == [[0.], [0.], [0., pytest.approx(0.3)]]
    flat = tiny(drop_path_rate=0.3)
    rates = [
        m.drop_path.drop_prob if isinstance(m.drop_path, DropPath) else 0.
        for stage in flat.stages for m in stage if hasattr(m, 'drop_path')
    ]
    assert rates == pytest.approx([0., 0.1, 0.2, 0.3])


@pytest.mark.parametrize('kwargs, match', [
    (dict(drop_path_rate=(0.1, 0.2)),
     r'one rate per stage \(3 stages\), got \[0.1, 0.2\]'),
    (dict(act_type='relu'),
     r"Unknown act_type 'relu'; choose from \['gelu', 'quick_gelu'\]"),
    (dict(qkv_kernel_size=4), 'qkv_kernel_size must be odd, got 4'),
    (dict(arch=dict(ARCH, num_heads=(1, 2))),
     r"arch 'num_heads' needs one entry per stage \(3 stages"),
    (dict(arch=dict(ARCH, patch_strides=(4, 2))),
     r"arch 'patch_strides' needs one entry per stage"),
    (dict(arch=dict(ARCH, depths=(1, 0, 2))),
     r'at least one block, got depths \[1, 0, 2\]'),
    (dict(arch=dict(ARCH, num_heads=(1, 5, 2))),
     r'dims \(24\) must be divisible by num_heads \(5\)'),
    (dict(out_type='cls_token', out_indices=(1, 2)),
     "out_type='cls_token' needs out_indices=-1.*last stage only"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_custom_token_embeddings_and_one_stage():
    model = tiny(arch=dict(ARCH, patch_sizes=(3, 3, 3),
                           patch_strides=(2, 2, 2),
                           patch_paddings=(1, 1, 1)),
                 out_type='featmap', out_indices=(0, 1, 2)).eval()
    assert model.patch_size == 2
    assert [o.shape[2:] for o in model(torch.randn(1, 3, 32, 32))] == [
        (16, 16), (8, 8), (4, 4)
    ]
    # one stage: the stem holds the class token
    one = CvT(dict(embed_dims=(16, ), num_heads=(2, ), depths=(2, )))
    one.init_weights()
    assert one.patch_embed.cls_token is not None
    assert one.patch_embed.cls_token.abs().sum() > 0  # trunc normal init
    assert one.eval()(torch.randn(2, 3, 16, 16))[0].shape == (2, 16)
    state = convert_cvt({
        'stage0.cls_token': one.patch_embed.cls_token,
        'stage0.patch_embed.proj.weight': one.patch_embed.proj.weight,
    })
    assert set(state) == {'backbone.patch_embed.cls_token',
                          'backbone.patch_embed.proj.weight'}


def test_cls_token_is_norm_of_the_raw_class_token():
    model = tiny().eval()
    raw = tiny(out_type='raw').eval()
    raw.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 40, 24)
    (cls, ) = model(x)
    (tokens, ) = raw(x)
    assert tokens.shape == (2, 1 + 3 * 2, 32)
    torch.testing.assert_close(cls, model.norm(tokens[:, 0]))


# --------------------------------------------------------------- converter
def test_converter_registered_and_strict(golden):
    converter = get_converter('CvT')
    assert converter.recognises(golden['state_dict'])
    assert converter.recognises({'module.' + k: v
                                 for k, v in golden['state_dict'].items()})
    assert not converter.recognises(
        {'backbone.' + k: v for k, v in tiny().state_dict().items()})
    state = convert_cvt({'model': golden['state_dict']})
    assert state['backbone.stages.2.0.cls_token'] is \
        golden['state_dict']['stage2.cls_token']
    assert state['backbone.stages.2.2.attn.proj_q.weight'] is \
        golden['state_dict']['stage2.blocks.1.attn.proj_q.weight']
    assert 'head.fc.weight' in state and 'backbone.norm.bias' in state
    with pytest.raises(KeyError, match=r"\['stage1.pos_embed'\]"):
        convert_cvt(dict(golden['state_dict'],
                         **{'stage1.pos_embed': torch.zeros(1)}))
    with pytest.raises(KeyError, match='class tokens in several stages'):
        convert_cvt(dict(golden['state_dict'],
                         **{'stage1.cls_token': torch.zeros(1, 1, 16)}))
