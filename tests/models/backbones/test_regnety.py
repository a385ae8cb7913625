# Copyright (c) mmvitplug contributors.
"""RegNetY: numerical parity with timm ``regnety_*`` and torchvision,
parameter counts of every zoo arch (timm and the published SEER ones), the
converter (timm, torchvision, vissl layouts), constructor arguments, and the
mmpretrain backbone contract (the staged contract checks of
``test_contract_staged.py`` run on a tiny RegNetY here).
"""
import math
import re

import pytest
import test_contract_staged as staged
import torch
import torch.nn as nn

from mmvitplug.converters import convert_regnety, get_converter
from mmvitplug.models.backbones import RegNetY
from mmvitplug.models.backbones.regnety import RegNetYBlock, regnet_widths
from mmvitplug.models.utils import load_pretrained
from _contract import perturb

timm = pytest.importorskip('timm')

#: 4 stages of widths 8 / 16 / 32 / 64 and depths 1 / 1 / 2 / 1
TINY = dict(w0=8, wa=10, wm=2., depth=5, group_width=8)
ALL = (0, 1, 2, 3)

FAMILY = staged.StagedFamily(
    cls=RegNetY,
    arch=TINY,
    kwargs={},
    out_types=('featmap', 'avg_featmap'),
    shapes={  # ceil(H / s) at every stride: any input size
        (32, 32): ((8, 8, 8), (16, 4, 4), (32, 2, 2), (64, 1, 1)),
        (37, 29): ((8, 10, 8), (16, 5, 4), (32, 3, 2), (64, 2, 1)),
    },
    drop_path='linear',
    label='RegNetY')

#: timm model name -> our arch (timm's regnety_640 / 1280 / 2560 are the
#: SEER RG-64 / 128 / 256GF designs of vissl)
TIMM_NAMES = {f'regnety-{n}': f'regnety_{n}' for n in (
    '002', '004', '006', '008', '016', '032', '040', '064', '080', '120',
    '160', '320', '640', '1280', '2560')}
#: Parameters without the classifier (timm's count minus ``head.fc``),
#: written down once from timm 1.0.31.
NUM_PARAMS = {
    'regnety-002': 2_793_996, 'regnety-004': 3_903_144,
    'regnety-006': 5_446_160, 'regnety-008': 5_494_168,
    'regnety-016': 10_313_430, 'regnety-032': 17_923_338,
    'regnety-040': 19_557_656, 'regnety-064': 29_286_252,
    'regnety-080': 37_163_068, 'regnety-120': 49_581_544,
    'regnety-160': 80_565_140, 'regnety-320': 141_333_770,
    'regnety-640': 276_457_786, 'regnety-1280': 637_419_894,
    'regnety-2560': 1_272_156_138, 'regnety-10b': 9_323_934_872,
}


def meta(arch, **kwargs):
    with torch.device('meta'):
        return RegNetY(arch, **kwargs)


def count(model):
    return sum(p.numel() for p in model.parameters())


def randomized_timm(name, seed=0):
    """A timm model with random weights, BN scales and statistics, eval."""
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


# ------------------------------------------------------------- the contract
STAGED_CHECKS = [
    'test_arch_dict_and_zoo_name', 'test_featmaps_at_every_size',
    'test_out_indices_select_stage_outputs',
    'test_avg_featmap_is_the_mean_of_featmap', 'test_get_layer_depth',
    'test_other_init_cfg_applies_on_top', 'test_pretrained_inside_list_raises',
    'test_in_channels', 'test_drop_path_rate'
]


@pytest.mark.parametrize('check', STAGED_CHECKS)
def test_staged_contract(check):
    getattr(staged, check)(FAMILY)


@pytest.mark.parametrize(
    'kwargs, match', [c.values[1:] for c in staged._bad_arguments(FAMILY)],
    ids=[c.id for c in staged._bad_arguments(FAMILY)])
def test_contract_bad_arguments(kwargs, match):
    staged.test_bad_arguments(FAMILY, kwargs, match)


@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 'all'])
def test_contract_frozen_stages(frozen_stages):
    staged.test_frozen_stages(FAMILY, frozen_stages)


def test_contract_gradients_depths_with_cp(monkeypatch):
    staged.test_all_parameters_receive_gradients(FAMILY, 'base')
    staged.test_layer_depth_is_where_parameters_enter(FAMILY, 'base')
    staged.test_with_cp_identical(FAMILY, 'base', monkeypatch)


@pytest.mark.parametrize('prefix', ['backbone.', None])
def test_contract_pretrained_loads_once(prefix, tmp_path):
    staged.test_pretrained_init_cfg_loads_once(FAMILY, prefix, tmp_path)


# ------------------------------------------------------------ timm parity
@pytest.mark.parametrize('arch', ['regnety-002', 'regnety-004',
                                  'regnety-006', 'regnety-008'])
def test_parity_with_timm(arch):
    """timm weights (random, BN statistics included) converted: every stage
    map and the logits of the pooled features agree (<= 1e-4), on a
    non-square input."""
    ref = randomized_timm(TIMM_NAMES[arch])
    converted = convert_regnety(ref.state_dict())
    model = RegNetY(arch, out_indices=ALL).eval()
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()
                if k.startswith('backbone.')}
    model.load_state_dict(backbone, strict=True)
    assert sorted(k for k in converted if not k.startswith('backbone.')) \
        == ['head.fc.bias', 'head.fc.weight']
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        outs = model(x)
        _, maps = ref.forward_intermediates(x, indices=[1, 2, 3, 4])
        logits = ref(x)
    for ours, theirs in zip(outs, maps):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    ours_logits = outs[-1].mean((2, 3)) @ converted['head.fc.weight'].t() \
        + converted['head.fc.bias']
    assert (ours_logits - logits).abs().max() <= 1e-4


def test_parity_with_torchvision():
    """torchvision's ``regnet_y_400mf`` (its own names: ``stem.0``,
    ``trunk_output.block{i}.block{i}-{j}.f.a.0``, ``fc``) is regnety-004."""
    tv = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    ref = tv.models.regnet_y_400mf()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    ref.eval()
    model = RegNetY('regnety-004', out_type='avg_featmap').eval()
    converted = convert_regnety(ref.state_dict())
    report = load_pretrained(model, converted, prefix='backbone.',
                             logger=None)
    assert report.complete
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        (pooled, ) = model(x)
        logits = pooled @ converted['head.fc.weight'].t() + \
            converted['head.fc.bias']
        torch.testing.assert_close(logits, ref(x), atol=1e-4, rtol=0)


# ------------------------------------------------------- parameter counts
@pytest.mark.parametrize('arch', sorted(NUM_PARAMS))
def test_param_counts_and_layout_equal_timm(arch):
    """Every zoo arch (meta device): the parameter count written down, equal
    to timm's without its classifier, and the converted timm state dict has
    exactly our keys and shapes."""
    model = meta(arch)
    assert count(model) == NUM_PARAMS[arch]
    assert len(model.depths) == 4
    if arch not in TIMM_NAMES:
        return
    with torch.device('meta'):
        ref = timm.create_model(TIMM_NAMES[arch], pretrained=False)
    assert count(model) == count(ref) - count(ref.head)
    converted = convert_regnety(ref.state_dict())
    expected = {f'backbone.{k}': tuple(v.shape)
                for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in converted.items()
           if k.startswith('backbone.')}
    assert got == expected


def test_seer_published_param_counts():
    """SEER's published sizes (vissl projects/SEER README: RG-32GF 156M,
    RG-128GF 693M) are the trunk plus vissl's SwAV head of the
    ``models/regnet*.yaml`` configs: ``Linear(C, C)``, ReLU,
    ``Linear(C, 128)``, 3000 prototypes (no bias). The published 250M
    (RG-64GF) and 1.5B / 1.3B (RG-256GF, README / paper) do not follow
    from the released designs (276.5M / 1272.2M trunks)."""
    def with_swav_head(arch):
        c = meta(arch).embed_dims[-1]
        return NUM_PARAMS[arch] + c * c + c + c * 128 + 128 + 128 * 3000

    assert round(with_swav_head('regnety-320') / 1e6) == 156
    assert round(with_swav_head('regnety-1280') / 1e6) == 693
    assert meta('regnety-2560').embed_dims[-1] == 10444  # vissl head dims
    assert meta('regnety-1280').embed_dims[-1] == 7392
    assert meta('regnety-10b').embed_dims[-1] == 28280  # vissl regnet10B


def test_stage_settings_of_published_designs():
    """Stage widths / depths of RegNetY-200MF (the RegNet paper, Fig. 14 /
    pycls) and RegNetY-32GF (torchvision's regnet_y_32gf)."""
    assert meta('regnety-002').embed_dims == [24, 56, 152, 368]
    assert meta('regnety-002').depths == [1, 1, 4, 7]
    m = meta('regnety-320')
    assert m.embed_dims == [232, 696, 1392, 3712]
    assert m.depths == [2, 5, 12, 1]
    assert m.group_widths == [232] * 4


def test_se_width_is_a_ratio_of_the_block_input():
    model = meta('regnety-320')
    blocks = [b for stage in model.stages for b in stage]
    assert len(blocks) == 20
    for block in blocks:
        in_channels = block.conv1.conv.in_channels
        assert block.se.conv_reduce.out_channels == round(0.25 * in_channels)
        assert block.se.conv_reduce.in_channels == \
            block.conv2.conv.out_channels
    # the first block of stage 2: input 232 channels, bottleneck 696
    assert blocks[2].se.conv_reduce.out_channels == 58


def test_regnet_widths_quantisation():
    """Hand-worked: w0=8, wa=10, wm=2, depth=5: continuous widths 8, 18,
    28, 38, 48 -> exponents round(log2(w / 8)) = 0, 1, 2, 2, 3 -> 8, 16,
    32, 32, 64."""
    assert regnet_widths(8, 10, 2., 5, 8) == ([8, 16, 32, 64], [1, 1, 2, 1],
                                              [8, 8, 8, 8])
    # group width above the bottleneck width is clipped; widths rounded to
    # multiples of the group width: 24 -> group 16 -> round(24/16)*16 = 32
    assert regnet_widths(24, 0., 2., 2, 16)[0] == [32]
    assert regnet_widths(24, 0., 2., 2, 16)[2] == [16]
    # bottle_ratio 0.5: bottleneck 12, group 8 -> round(12 / 8) * 8 = 16,
    # width 16 / 0.5 = 32
    assert regnet_widths(24, 0., 2., 2, 8, bottle_ratio=0.5) == ([32], [2],
                                                                 [8])


@pytest.mark.parametrize('arch, match', [
    (dict(TINY, wm=1.), 'wm > 1'),
    (dict(TINY, w0=12), 'multiple of 8'),
    (dict(TINY, depth=0), 'depth >= 1'),
])
def test_bad_designs(arch, match):
    with pytest.raises(ValueError, match=match):
        RegNetY(arch)


# ------------------------------------------------------------ converter
def vissl_checkpoint(model, head=None):
    """Our weights in vissl's SEER layout (ClassyVision names), written
    independently of the converter."""
    trunk = {}
    for key, value in model.state_dict().items():
        m = re.match(r'stem\.(conv|bn)\.(.+)', key)
        if m:
            idx = 0 if m[1] == 'conv' else 1
            trunk[f'_feature_blocks.conv1.stem.{idx}.{m[2]}'] = value
            continue
        m = re.match(r'stages\.(\d+)\.(\d+)\.(.+)', key)
        stage, block, rest = int(m[1]), int(m[2]), m[3]
        rest = {
            'conv1.conv.weight': 'f.a.0.weight',
            'conv2.conv.weight': 'f.b.0.weight',
            'conv3.conv.weight': 'f.c.weight',
            'downsample.conv.weight': 'proj.weight',
            'se.conv_reduce.weight': 'f.se.excitation.0.weight',
            'se.conv_reduce.bias': 'f.se.excitation.0.bias',
            'se.conv_expand.weight': 'f.se.excitation.2.weight',
            'se.conv_expand.bias': 'f.se.excitation.2.bias',
        }.get(rest, rest)
        for ours, theirs in (('conv1.bn.', 'f.a.1.'), ('conv2.bn.', 'f.b.1.'),
                             ('conv3.bn.', 'f.final_bn.'),
                             ('downsample.bn.', 'bn.')):
            if rest.startswith(ours):
                rest = theirs + rest[len(ours):]
        trunk[f'_feature_blocks.res{stage + 2}.block{stage + 1}-{block}.'
              f'{rest}'] = value
    return {
        'phase_idx': 0,
        'classy_state_dict': {
            'base_model': {
                'model': {
                    'trunk': trunk,
                    'heads': head or {}
                }
            }
        }
    }


def test_vissl_seer_checkpoint_converts():
    torch.manual_seed(0)
    model = perturb(RegNetY(TINY))
    head = {
        '0.projection_head.0.weight': torch.randn(16, 64),
        '0.projection_head.0.bias': torch.randn(16),
        '0.projection_head.2.weight': torch.randn(4, 16),
        '0.projection_head.2.bias': torch.randn(4),
        '0.prototypes0.weight': torch.randn(5, 4),
    }
    ckpt = vissl_checkpoint(model, head)
    assert get_converter('RegNetY').recognises(ckpt)
    converted = convert_regnety(ckpt)
    for key, value in model.state_dict().items():
        assert torch.equal(converted[f'backbone.{key}'], value), key
    assert converted['neck.projection_head.2.bias'] is \
        head['0.projection_head.2.bias']
    assert converted['head.loss_module.prototypes.weight'] is \
        head['0.prototypes0.weight']
    assert len(converted) == len(model.state_dict()) + len(head)
    # the trunk dict alone is recognised too; a backbone loads it
    trunk = ckpt['classy_state_dict']['base_model']['model']['trunk']
    fresh = RegNetY(TINY)
    report = load_pretrained(fresh, trunk, prefix='backbone.', logger=None)
    assert report.converted and report.complete
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)


def test_converter_refuses_unknown_keys():
    ref = dict(randomized_timm('regnety_002').state_dict())
    ref['s1.b1.extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"s1\.b1\.extra\.weight"):
        convert_regnety(ref)
    assert not get_converter('RegNetY').recognises(
        {f'backbone.{k}': v for k, v in RegNetY(TINY).state_dict().items()})


def test_pretrained_init_cfg_loads_timm_checkpoint(tmp_path):
    ref = randomized_timm('regnety_002')
    path = str(tmp_path / 'regnety_002.pth')
    torch.save(ref.state_dict(), path)
    model = RegNetY('regnety-002', out_indices=ALL, init_cfg=dict(
        type='Pretrained', checkpoint=path))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        _, maps = ref.forward_intermediates(x, indices=[1, 2, 3, 4])
        for ours, theirs in zip(model(x), maps):
            torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


# ------------------------------------------------- constructor arguments
def test_default_initialisation():
    torch.manual_seed(0)
    model = RegNetY('regnety-002')
    model.init_weights()
    conv = model.stages[2][0].conv2.conv  # grouped 3x3, 152 ch, groups 19
    fan_out = 3 * 3 * 152 // 19
    assert conv.weight.std().item() == pytest.approx(
        math.sqrt(2 / fan_out), rel=0.05)
    blocks = [b for m in model.stages for b in m]
    assert all(torch.all(b.conv3.bn.weight == 0) for b in blocks)
    assert all(torch.all(b.conv1.bn.weight == 1) for b in blocks)
    assert all(torch.all(b.se.conv_reduce.bias == 0) for b in blocks)
    model = RegNetY('regnety-002', zero_init_last_bn=False)
    model.init_weights()
    assert all(torch.all(b.conv3.bn.weight == 1)
               for m in model.stages for b in m)


def test_norm_cfg_and_norm_eval():
    model = RegNetY(TINY, norm_cfg=dict(type='GN', num_groups=4))
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 1 + 5 * 3 + 4  # stem, 3 a block, 4 shortcuts
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    model = RegNetY(TINY, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.stages[0][0].conv1.conv.training
    before = bns[-1].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(bns[-1].running_mean, before)
    assert all(m.training for m in RegNetY(TINY).train().modules())


def test_blocks_and_shortcuts():
    model = RegNetY(TINY)
    model.init_weights()
    first, second = model.stages[2][0], model.stages[2][1]
    assert isinstance(first, RegNetYBlock)
    assert first.conv2.conv.stride == (2, 2)
    assert first.downsample.conv.stride == (2, 2)
    assert isinstance(second.downsample, nn.Identity)
    assert second.conv2.conv.groups == 32 // 8
    # se_ratio 0: a RegNetX block
    plain = RegNetY(dict(TINY, se_ratio=0.))
    assert not any(isinstance(m, type(first.se)) for m in plain.modules())
    # identity block: relu(x + branch(x)), the branch zero at init
    second.eval()
    x = torch.randn(1, 32, 4, 4).relu()
    torch.testing.assert_close(second(x), x)
