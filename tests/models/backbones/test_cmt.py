# Copyright (c) mmvitplug contributors.
"""CMT: golden parity with the official code, parameter counts, position
bias resizing, converter, constructor arguments.

``tests/data/cmt_golden.pt`` was produced once from the official code,
``cmt_pytorch/cmt.py`` of huawei-noah/Efficient-AI-Backbones at commit
f90e129b645c3b1684fe07cd361cd557d0ad71f7 (file last changed in 22110286),
run unmodified with timm 1.0.31 and torch 2.13 on CPU. It holds:

- ``state_dict``: the ``state_dict()`` (floats stored as float16, which
  holds them exactly, see below) of ``CMT(img_size=64, num_classes=10,
  embed_dims=[16, 16, 24, 32], stem_channel=8, fc_dim=32, num_heads=[1, 2,
  2, 4], mlp_ratios=[3.6] * 4, qkv_bias=True, depths=[2, 1, 1, 1],
  qk_ratio=1, sr_ratios=[8, 4, 2, 1], dp=0.1)`` built after
  ``torch.manual_seed(0)``, whose parameters and BN statistics were then
  overwritten in ``named_parameters()`` / ``named_buffers()`` order from a
  generator seeded with 2 (norm weights ``1 + 0.2 * randn``,
  ``relative_pos_*`` ``randn``, other >= 2-d tensors ``randn / sqrt(fan_in)``,
  other 1-d tensors ``0.2 * randn``, running means ``0.2 * randn``, running
  variances ``0.5 + rand``) and rounded to float16 values, so nothing hides
  and the file stays small.
- ``input``: ``torch.randn(2, 3, 64, 64)`` from a generator seeded with 1,
  rounded to float16 values (stored as float16).
- ``logits`` (eval-mode ``forward``), ``pre_logits`` (``forward_features``)
  and ``stages``: the tokens after the last block of each stage (forward
  hooks on ``blocks_{a,b,c,d}[-1]``), float32.
- ``num_params``: parameter counts of the official ``cmt_ti``, ``cmt_xs``,
  ``cmt_s`` and ``cmt_b`` (1000 classes) at their training resolutions
  160 / 192 / 224 / 256 (``img_size``, which sizes the position biases), and
  of ``cmt_ti`` at 224.
"""
import math
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.converters import convert_cmt, get_converter
from mmvitplug.models.backbones import CMT
from mmvitplug.models.backbones.cmt import (CMTAttention, CMTPatchEmbed,
                                            resize_attention_bias)
from mmvitplug.models.utils import load_pretrained
from _builders import TEST_DATA, TINY_ARCHS, build_tiny
from _contract import perturb, randomize

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, featmaps at two sizes, ...) is checked in test_contract_staged.py;
# this file tests what is CMT-specific.
GOLDEN = osp.join(TEST_DATA, 'cmt_golden.pt')
GOLDEN_ARCH = dict(embed_dims=[16, 16, 24, 32], depths=[2, 1, 1, 1],
                   num_heads=[1, 2, 2, 4], mlp_ratio=3.6, stem_channels=8,
                   img_size=64)
ARCH = TINY_ARCHS['CMT']
ALL = (0, 1, 2, 3)

tiny = partial(build_tiny, CMT)


@pytest.fixture(scope='module')
def golden():
    data = torch.load(GOLDEN, weights_only=True)
    data['state_dict'] = {
        k: v.float() if v.is_floating_point() else v
        for k, v in data['state_dict'].items()
    }
    data['input'] = data['input'].float()
    return data


def build_classifier(arch=GOLDEN_ARCH, num_classes=10, head_dims=32,
                     **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.CMT', arch=arch,
                          head_dims=head_dims, **backbone),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=num_classes,
                      in_channels=head_dims)))


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


# ------------------------------------------------------------ golden parity
@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_classifier(golden, fused_attn):
    model = build_classifier(fused_attn=fused_attn).eval()
    model.load_state_dict(convert_cmt({'model': golden['state_dict']}),
                          strict=True)
    x = golden['input']
    with torch.no_grad():
        logits = model(x, mode='tensor')
        feats = model.extract_feat(x)[0]
    assert (logits - golden['logits']).abs().max() <= 1e-4
    assert (feats - golden['pre_logits']).abs().max() <= 1e-4


@pytest.mark.parametrize('fused_attn', [True, False])
def test_golden_parity_stages(golden, fused_attn):
    """Every stage's tokens ('raw') and maps ('featmap', row-major)."""
    state = backbone_state(convert_cmt(golden['state_dict']))
    x = golden['input']
    for out_type in ('raw', 'featmap'):
        model = CMT(GOLDEN_ARCH, out_type=out_type, out_indices=ALL,
                    fused_attn=fused_attn).eval()
        model.load_state_dict(state, strict=False)  # no pre_logits here
        with torch.no_grad():
            outs = model(x)
        for out, ref in zip(outs, golden['stages']):
            if out_type == 'featmap':
                out = out.flatten(2).transpose(1, 2)
            assert (out - ref).abs().max() <= 1e-4


def test_fused_and_explicit_gradients_agree(golden):
    grads = []
    for fused in (True, False):
        model = CMT(GOLDEN_ARCH, head_dims=32, head_drop_rate=0.,
                    fused_attn=fused).train()
        model.load_state_dict(backbone_state(convert_cmt(
            golden['state_dict'])))
        model(golden['input'])[0].square().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], atol=1e-4,
                                   rtol=1e-4, msg=name)


# -------------------------------------------------------- arch zoo, params
@pytest.mark.parametrize('arch, official', [
    ('cmt-ti', 'cmt_ti@160'),
    ('cmt-xs', 'cmt_xs@192'),
    ('cmt-s', 'cmt_s@224'),
    ('cmt-b', 'cmt_b@256'),
])
def test_param_counts_equal_official(golden, arch, official):
    """Backbone + a 1000-class linear head, at the training resolution the
    zoo gives each arch (the position biases' size depends on it)."""
    with torch.device('meta'):
        model = CMT(arch)
    head = 1280 * 1000 + 1000
    assert sum(p.numel() for p in model.parameters()) + head == \
        golden['num_params'][official]
    assert model.img_size == (int(official[-3:]), ) * 2


def test_param_count_at_another_img_size(golden):
    with torch.device('meta'):
        model = CMT('cmt-ti', img_size=224)
    assert sum(p.numel() for p in model.parameters()) + 1281000 == \
        golden['num_params']['cmt_ti@224']


def test_zoo_settings():
    with torch.device('meta'):
        model = CMT('cmt-b')
    assert model.embed_dims == [76, 152, 304, 608]
    assert model.depths == [4, 4, 20, 4]
    assert model.patch_size == 4
    # a patch embedding opens each stage
    assert model.num_trunk_layers == 32 + 4
    assert model.pre_logits.drop.p == 0.3  # the official dp of CMT-B
    assert [m.attn.num_heads for m in (s[1] for s in model.stages)] == \
        [1, 2, 4, 8]
    assert [m.attn.sr_ratio for m in (s[1] for s in model.stages)] == \
        [8, 4, 2, 1]
    # hidden width int(dim * mlp_ratio), as the official Mlp
    with torch.device('meta'):
        ti = CMT('cmt-ti')
    assert ti.stages[0][1].mlp.conv1[0].out_channels == int(46 * 3.6) == 165
    assert ti.pre_logits.drop.p == 0.1


# -------------------------------------------------- position bias resizing
def test_resize_attention_bias_is_2d_resizing_of_both_axes():
    torch.manual_seed(0)
    bias = torch.randn(2, 2 * 3, 1 * 2)  # query grid 2x3, key grid 1x2
    assert resize_attention_bias(bias, (2, 3), (1, 2), (2, 3), (1, 2)) \
        is bias
    out = resize_attention_bias(bias, (2, 3), (1, 2), (4, 6), (2, 4),
                                mode='nearest')
    assert out.shape == (2, 24, 8)
    # nearest, 2x: query (i, j) / key (k, l) read (i // 2, j // 2) and
    # (k // 2, l // 2) of the table, both row-major
    table = bias.reshape(2, 2, 3, 1, 2)
    ref = table.repeat_interleave(2, 1).repeat_interleave(2, 2) \
        .repeat_interleave(2, 3).repeat_interleave(2, 4).reshape(2, 24, 8)
    torch.testing.assert_close(out, ref)
    # bicubic: each axis is F.interpolate of 2-D maps; the order of the
    # two separable resizes does not matter
    out = resize_attention_bias(bias, (2, 3), (1, 2), (3, 5), (2, 3))
    keys = F.interpolate(bias.reshape(1, 12, 1, 2), size=(2, 3),
                         mode='bicubic', align_corners=False).reshape(2, 6, 6)
    ref = F.interpolate(keys.transpose(1, 2).reshape(1, 12, 2, 3),
                        size=(3, 5), mode='bicubic', align_corners=False)
    ref = ref.reshape(2, 6, 15).transpose(1, 2)
    torch.testing.assert_close(out, ref)
    queries_first = F.interpolate(
        bias.transpose(1, 2).reshape(1, 4, 2, 3), size=(3, 5),
        mode='bicubic', align_corners=False).reshape(2, 2, 15)
    queries_first = F.interpolate(
        queries_first.transpose(1, 2).reshape(1, 30, 1, 2), size=(2, 3),
        mode='bicubic', align_corners=False).reshape(2, 15, 6)
    torch.testing.assert_close(out, queries_first)
    with pytest.raises(ValueError, match=r'\(2, 6, 2\) does not match the '
                       r'3x3 query and 1x2 key grids'):
        resize_attention_bias(bias, (3, 3), (1, 2), (4, 4), (2, 2))


def test_position_bias_resized_for_other_inputs():
    """A model at a 64x96 input equals one built for 64x96 whose position
    biases were resized once; 'nearest' gives another function."""
    small = perturb(tiny(out_type='raw', out_indices=ALL)).eval()
    big = tiny(out_type='raw', out_indices=ALL, img_size=(64, 96))
    state = small.state_dict()
    for i, stage in enumerate(small.stages):
        embed = stage[0]
        assert embed.grid == (16 // 2**i, ) * 2
        key = f'stages.{i}.0.relative_pos'
        state[key] = resize_attention_bias(
            state[key], embed.grid, embed.kv_grid, big.stages[i][0].grid,
            big.stages[i][0].kv_grid)
    big.load_state_dict(state)
    x = torch.randn(2, 3, 64, 96)
    for a, b in zip(small(x), big.eval()(x)):
        torch.testing.assert_close(a, b)
    nearest = tiny(out_type='raw', out_indices=ALL,
                   interpolate_mode='nearest').eval()
    nearest.load_state_dict(small.state_dict())
    assert not torch.allclose(nearest(x)[0], small(x)[0])
    # at the training size the mode does not matter
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(nearest(x), small(x))


def test_position_bias_trains_at_other_inputs():
    model = tiny(out_type='featmap', out_indices=ALL)
    sum(o.square().sum() for o in model(torch.randn(2, 3, 96, 64))).backward()
    for stage in model.stages:
        assert stage[0].relative_pos.grad.abs().sum() > 0


def test_position_bias_shared_by_the_blocks_of_a_stage():
    model = tiny(out_type='raw', out_indices=ALL).eval()
    seen = []
    for block in model.stages[2][1:]:
        block.attn.register_forward_pre_hook(
            lambda m, args: seen.append(args[2]))
    model(torch.randn(1, 3, 64, 96))
    assert len(seen) == 2 and seen[0] is seen[1]
    assert seen[0].shape == (1, 2, 4 * 6, 2 * 3)  # heads, queries, keys


def test_checkpoint_of_another_resolution_is_resized_on_load(tmp_path):
    """Loading resizes like the forward pass does on the fly."""
    src = perturb(tiny(out_type='raw', out_indices=ALL, seed=1)).eval()
    path = tmp_path / 'cmt.pth'
    torch.save({'state_dict': src.state_dict()}, path)
    model = tiny(out_type='raw', out_indices=ALL, img_size=128, init=False,
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert model.stages[0][0].relative_pos.shape == (1, 32 * 32, 4 * 4)
    x = torch.randn(1, 3, 128, 128)
    for a, b in zip(src(x), model.eval()(x)):
        torch.testing.assert_close(a, b)
    report = load_pretrained(model, str(path), logger=None)
    assert report.complete and not report.mismatched


def test_official_zoo_checkpoint_into_detection_size(golden):
    """An official checkpoint (square training grid) loads into a backbone
    built for another size; its biases are resized to the new grids."""
    model = CMT(dict(GOLDEN_ARCH, img_size=(96, 128)), head_dims=32)
    report = load_pretrained(model, golden['state_dict'], prefix='backbone.',
                             logger=None)
    assert report.converted and report.complete and not report.mismatched
    table = golden['state_dict']['relative_pos_b']  # (2, 8*8, 2*2)
    torch.testing.assert_close(
        model.stages[1][0].relative_pos,
        resize_attention_bias(table, (8, 8), (2, 2), (12, 16), (3, 4)))


# ----------------------------------------------------------- the converter
def test_converter_keys_and_errors(golden):
    official = golden['state_dict']
    converted = convert_cmt({'model': official})
    model = build_classifier()
    assert set(converted) == set(model.state_dict())
    assert converted['backbone.stages.0.0.relative_pos'] is \
        official['relative_pos_a']
    assert converted['backbone.stages.0.2.attn.sr.1.running_var'] is \
        official['blocks_a.1.attn.sr.1.running_var']
    assert converted['backbone.pre_logits.conv.weight'] is \
        official['_fc.weight']
    assert converted['head.fc.bias'] is official['head.bias']
    assert get_converter('CMT').recognises(official)
    for bad in ('blocks_e.0.proj.weight', 'stem_conv1.running_mean',
                'blocks_a.0.attn.qkv.weight', 'pos_embed'):
        with pytest.raises(KeyError, match=rf"not in the official CMT "
                           rf"layout: \['{bad}'\]"):
            convert_cmt(dict(official, **{bad: torch.zeros(1)}))


def test_wrong_family_checkpoint_is_refused(golden):
    deit_like = {'cls_token': torch.zeros(1, 1, 8),
                 'blocks.0.attn.qkv.weight': torch.zeros(24, 8)}
    assert not get_converter('CMT').recognises(deit_like)
    with pytest.raises(KeyError, match='not in the official CMT layout'):
        convert_cmt(deit_like)
    with pytest.raises(ValueError, match='No tensor of <dict> matches CMT'):
        load_pretrained(tiny(), deit_like, logger=None)


def test_pretrained_init_cfg_loads_official_checkpoint(golden, tmp_path):
    path = tmp_path / 'cmt_official.pth'
    torch.save({'model': golden['state_dict']}, path)
    model = build_classifier()
    model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(path),
                                   prefix='backbone.')
    model.init_weights()
    model.head.fc.load_state_dict({'weight': golden['state_dict'][
        'head.weight'], 'bias': golden['state_dict']['head.bias']})
    with torch.no_grad():
        logits = model.eval()(golden['input'], mode='tensor')
    assert (logits - golden['logits']).abs().max() <= 1e-4


# ----------------------------------------------------- constructor arguments
def test_pre_logits_is_conv_norm_swish_pool():
    model = randomize(tiny(head_dims=12)).eval()
    maps = tiny(out_type='featmap', head_dims=12).eval()
    maps.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 64, 64)
    top = model.pre_logits
    ref = F.silu(top.norm(top.conv(maps(x)[0]))).mean((2, 3))
    out = model(x)[0]
    assert out.shape == (2, 12)
    torch.testing.assert_close(out, ref)
    with pytest.raises(ValueError, match="out_type='pre_logits' needs "
                       'out_indices=-1'):
        tiny(out_indices=(0, 3))
    assert tiny(out_type='featmap').pre_logits is None


def test_dropout_arguments():
    x = torch.randn(4, 3, 64, 64)
    for kwargs in (dict(head_drop_rate=0.5), dict(drop_rate=0.5),
                   dict(attn_drop_rate=0.5)):
        model = tiny(**kwargs).eval()
        plain = tiny().eval()
        plain.load_state_dict(model.state_dict())
        torch.testing.assert_close(model(x)[0], plain(x)[0])
        torch.manual_seed(0)
        out = model.train()(x)[0]
        torch.manual_seed(0)
        assert not torch.allclose(out, plain.train()(x)[0]), kwargs
    assert tiny(head_drop_rate=0.).pre_logits.drop.p == 0.
    assert tiny().pre_logits.drop.p == 0.1


def test_qkv_bias_qk_ratio_and_sr_ratios():
    model = tiny(qkv_bias=False)
    attns = [m for m in model.modules() if isinstance(m, CMTAttention)]
    assert all(m.q.bias is None and m.k.bias is None and m.v.bias is None
               for m in attns)
    assert all(m.proj.bias is not None for m in attns)
    model = tiny(arch=dict(ARCH, qk_ratio=2, num_heads=(1, 2, 2, 2)))
    attn = model.stages[3][1].attn
    assert (attn.q.out_features, attn.k.out_features,
            attn.v.out_features) == (16, 16, 32)
    assert attn.scale == 16**-0.5  # of the full head width, as official
    assert model(torch.randn(1, 3, 64, 64))[0].shape == (1, 1280)
    model = tiny(arch=dict(ARCH, sr_ratios=(2, 2, 1, 1)), out_type='raw',
                 out_indices=ALL)
    assert [hasattr(s[1].attn, 'sr') for s in model.stages] == \
        [True, True, False, False]
    assert model.stages[0][0].relative_pos.shape == (1, 256, 64)
    assert model.stages[2][0].relative_pos.shape == (2, 16, 16)


def test_norm_cfg_replaces_every_batchnorm():
    model = tiny(norm_cfg=dict(type='GN', num_groups=1))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                   for m in model.modules())
    # stem 3, per block: reduction (where sr > 1) + 3 IRFFN, pre_logits 1
    n = sum(isinstance(m, nn.GroupNorm) for m in model.modules())
    assert n == 3 + 3 * 5 + 4 + 1
    assert isinstance(model.stem.norm1, nn.GroupNorm)
    model = tiny(norm_cfg=dict(type='SyncBN'))
    assert isinstance(model.stages[0][1].mlp.proj_bn, nn.SyncBatchNorm)


def test_default_initialisation():
    torch.manual_seed(0)
    model = CMT(dict(ARCH, embed_dims=(64, 64, 64, 64)), img_size=128)
    model.init_weights()
    bias = model.stages[0][0].relative_pos  # (1, 1024, 16)
    assert 0.9 < bias.std() < 1.1  # standard normal, as official
    q = model.stages[0][1].attn.q
    assert 0.015 < q.weight.std() < 0.025 and torch.all(q.bias == 0)
    conv = model.stages[0][1].mlp.conv1[0]  # Kaiming normal, fan out
    expected = math.sqrt(2. / conv.out_channels)
    assert 0.9 * expected < conv.weight.std() < 1.1 * expected
    assert torch.all(model.stages[0][1].norm1.weight == 1)


@pytest.mark.parametrize('kwargs, match', [
    (dict(img_size=72), r'img_size 72x72 is not divisible by 32'),
    (dict(img_size=(64, 48)), r'img_size 64x48 is not divisible by 32'),
    (dict(arch=dict(ARCH, num_heads=(1, 2, 2))),
     r'arch num_heads has 3 entries but depths has 4'),
    (dict(arch=dict(ARCH, num_heads=(1, 2, 5, 4))),
     r'num_heads \(5\) must divide the token dimension \(24\)'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


@pytest.mark.parametrize('size', [(64, 80), (48, 64), (16, 16)])
def test_bad_input_sizes(size):
    with pytest.raises(ValueError, match=f'input {size[0]}x{size[1]} is not '
                       'divisible by 32.*size_divisor=32'):
        tiny()(torch.randn(1, 3, *size))


def test_patch_embed_gives_the_stage_bias():
    embed = CMTPatchEmbed(8, 16, 2, (4, 4), 2, 'bicubic')
    nn.init.normal_(embed.relative_pos)
    tokens, bias = embed(torch.randn(1, 8, 8, 8))
    assert tokens.shape == (1, 16, 16)
    torch.testing.assert_close(bias[0], embed.relative_pos)
    _, bias = embed(torch.randn(1, 8, 8, 12))
    assert bias.shape == (1, 2, 4 * 6, 2 * 3)
