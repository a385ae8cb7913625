# Copyright (c) mmvitplug contributors.
"""G-Ghost RegNet: golden parity with the official code, the G-Ghost
stage's channel split, parameter counts, the converter, errors.

``tests/data/g_ghost_regnet_golden.pt`` was produced once from the
official code (huawei-noah/Efficient-AI-Backbones
``g_ghost_pytorch/g_ghost_regnet.py``) in a scratch environment: two tiny
``GGhostRegNet`` s (widths 16 / 32 / 48 / 64, group width 8; depths
1 / 3 / 4 / 3: G-Ghost stages 2-4, and 2 / 2 / 4 / 1: only stage 3, the
pattern of g_ghost_regnetx_032) with every parameter and BN statistic
randomised, their logits and stage outputs on a 26 x 42 image (odd sides
at several strides), and the parameter counts of the twelve official
models.
"""
import os.path as osp

import pytest
import torch

from mmvitplug.converters import convert_g_ghost_regnet, get_converter
from mmvitplug.models.backbones import GGhostRegNet
from mmvitplug.models.backbones.g_ghost_regnet import GGhostStage
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'g_ghost_regnet_golden.pt')


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def golden_arch(gold):
    kw = gold['kwargs']
    return dict(depths=kw['layers'], widths=kw['widths'],
                group_width=kw['group_width'])


@pytest.mark.parametrize('name', ['ghost_all', 'ghost_mid'])
def test_golden_parity_classifier_and_stages(golden, name):
    """The official checkpoint, converted, in an mmpretrain classifier
    (GAP neck, dropout + linear head), and the stem and stage maps."""
    from mmpretrain.registry import MODELS
    gold = golden['models'][name]
    arch = golden_arch(gold)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.GGhostRegNet', arch=arch),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='mmvitplug.DropoutLinearClsHead', num_classes=10,
                      in_channels=arch['widths'][-1],
                      dropout_rate=0.2))).eval()
    model.load_state_dict(convert_g_ghost_regnet({'model':
                                                  gold['state_dict']}))
    with torch.no_grad():
        logits = model(gold['input'], mode='tensor')
    assert (logits - gold['logits']).abs().max() <= 1e-5
    backbone = GGhostRegNet(arch, out_indices=(0, 1, 2, 3)).eval()
    backbone.load_state_dict(model.backbone.state_dict())
    with torch.no_grad():
        stem, _ = backbone.embed(gold['input'])
        outs = backbone(gold['input'])
    assert gold['stage_names'][0] == 'stem'
    for ours, theirs in zip((stem, *outs), gold['stages']):
        assert (ours - theirs).abs().max() <= 1e-5
    ghost = [f'layer{i + 1}' for i, g in enumerate(backbone.ghost_stages)
             if g]
    assert ghost == sorted(gold['ghost_stages'])
    for i, stage in enumerate(backbone.stages):
        if isinstance(stage, GGhostStage):
            assert (stage.raw_channels, stage.cheap_channels) == \
                tuple(gold['ghost_stages'][f'layer{i + 1}'])


def test_param_counts_equal_official(golden):
    """All twelve official models (backbone; + the 1000-class fc)."""
    for arch in GGhostRegNet.arch_zoo:
        with torch.device('meta'):
            model = GGhostRegNet(arch)
        name = 'g_ghost_regnetx_' + arch.rsplit('-', 1)[1]
        count = sum(p.numel() for p in model.parameters())
        assert round(count / 1e6, 3) == golden['num_params_backbone'][name]
        total = count + model.embed_dims[-1] * 1000 + 1000
        assert round(total / 1e6, 3) == golden['num_params'][name]


def test_which_stages_are_ghost():
    """Stage 3 always; stages 2 and 4 with more than two blocks."""
    assert GGhostRegNet('g-ghost-regnetx-032').ghost_stages == \
        [False, True, True, False]
    assert GGhostRegNet('g-ghost-regnetx-002').ghost_stages == \
        [False, False, True, True]
    stage = GGhostRegNet('g-ghost-regnetx-032').stages[2]
    # group width 48 -> inner 36; raw = int(432 * 0.5 / 36) * 36
    assert (stage.raw_channels, stage.cheap_channels) == (216, 216)
    assert len(stage.layers) == 13
    assert stage.merge[1].in_channels == 432 + 216 * 13


def test_cheap_features_depend_on_every_intermediate_map():
    """The merge branch sees every inner block's output: perturbing the
    input of the last inner block's slice of merge changes the output."""
    torch.manual_seed(0)
    stage = GGhostStage(16, 32, 4, 8, dict(type='BN')).eval()
    x = torch.randn(2, 16, 8, 8)
    out = stage(x)
    with torch.no_grad():
        stage.merge[1].weight[:, -12:].add_(1.)  # the last inner map
    assert not torch.allclose(stage(x), out)


def test_norm_cfg_and_norm_eval():
    model = GGhostRegNet(
        dict(depths=(1, 3, 4, 3), widths=(16, 32, 48, 64), group_width=8),
        norm_cfg=dict(type='BN', momentum=0.3), norm_eval=True)
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.momentum == 0.3 for m in norms)
    model.train()
    assert not any(m.training for m in norms)


def test_converter_is_registered_and_maps_every_key(golden):
    state = golden['models']['ghost_mid']['state_dict']
    assert get_converter('GGhostRegNet').recognises(state)
    converted = convert_g_ghost_regnet(state)
    assert len(converted) == len(state)
    assert {'backbone.stages.2.merge.5.running_var',
            'backbone.stages.1.0.downsample.1.weight',
            'backbone.stages.2.layers.1.conv2.weight', 'head.fc.weight'} \
        <= set(converted)
    with pytest.raises(KeyError, match=r'convert_g_ghost_regnet: 1 key\(s\) '
                       r'are not in the official G-Ghost RegNet layout: '
                       r"\['layer3.merge.3.weight'\]"):
        convert_g_ghost_regnet({'layer3.merge.3.weight': torch.ones(1)})


def test_bad_arch():
    with pytest.raises(ValueError, match=r'Unknown arch .*g-ghost-regnetx'):
        GGhostRegNet('regnetx-032')
    with pytest.raises(ValueError, match=r'third stage is always a G-Ghost '
                       r'stage and needs at least 3 blocks'):
        GGhostRegNet(dict(depths=(1, 1, 2, 1), widths=(8, 16, 24, 32),
                          group_width=8))
    with pytest.raises(ValueError, match='4 stages: arch depths needs 4'):
        GGhostRegNet(dict(depths=(1, 3, 4), widths=(8, 16, 24),
                          group_width=8))
