# Copyright (c) mmvitplug contributors.
"""GhostNet / GhostNetV2: parity with timm's ``ghostnet_*`` /
``ghostnetv2_*`` (whose names and layout are the official code's), the
classification head, the converter, the DFC placement, errors."""
import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import convert_ghostnet, get_converter
from mmvitplug.models.backbones import GhostNet
from mmvitplug.models.backbones.ghostnet import make_divisible
from mmvitplug.models.heads import GhostNetClsHead

timm = pytest.importorskip('timm')

ARCHS = [('ghostnet_050', 'ghostnet-0.5x'), ('ghostnet_100', 'ghostnet-1.0x'),
         ('ghostnet_130', 'ghostnet-1.3x'),
         ('ghostnetv2_100', 'ghostnetv2-1.0x'),
         ('ghostnetv2_130', 'ghostnetv2-1.3x'),
         ('ghostnetv2_160', 'ghostnetv2-1.6x')]


def timm_model(name, seed=0):
    """timm's model with random BN statistics and affines (eval)."""
    torch.manual_seed(seed)
    ref = timm.create_model(name).eval()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.normal_(1, 0.2)
                m.bias.normal_(0, 0.1)
    return ref


def classifier(arch, in_channels):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.GhostNet', arch=arch),
            neck=None,
            head=dict(type='mmvitplug.GhostNetClsHead', num_classes=1000,
                      in_channels=in_channels))).eval()


@pytest.mark.parametrize('name, arch', ARCHS)
def test_timm_parity_and_param_counts(name, arch):
    """timm's weights, converted, give timm's logits on a non-square
    image; parameter counts equal (timm's = the official ones)."""
    ref = timm_model(name)
    model = classifier(arch, ref.num_features)
    model.load_state_dict(convert_ghostnet(ref.state_dict()))
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        assert (model(x, mode='tensor') - ref(x)).abs().max() <= 1e-4
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in ref.parameters())


def test_stage_maps_equal_timm_blocks():
    ref = timm_model('ghostnetv2_100')
    model = GhostNet('ghostnetv2-1.0x', out_indices=(2, 4, 6, 9)).eval()
    state = convert_ghostnet(ref.state_dict())
    model.load_state_dict(
        {k[9:]: v for k, v in state.items() if k.startswith('backbone.')})
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        outs = model(x)
        y = ref.act1(ref.bn1(ref.conv_stem(x)))
        maps = []
        for i, block in enumerate(ref.blocks):
            y = block(y)
            if i in (2, 4, 6, 9):
                maps.append(y)
    assert [o.shape[1] for o in outs] == [24, 40, 112, 960]
    for ours, theirs in zip(outs, maps):
        assert (ours - theirs).abs().max() <= 1e-4


def test_dfc_after_the_second_bottleneck_only():
    model = GhostNet('ghostnetv2-1.0x')
    bottlenecks = [b for stage in model.layers for b in stage
                   if hasattr(b, 'ghost1')]
    assert len(bottlenecks) == 16
    assert [b.ghost1.short_conv is not None for b in bottlenecks] == \
        [False, False] + [True] * 14
    assert all(b.ghost2.short_conv is None for b in bottlenecks)
    assert all(b.ghost1.short_conv is None
               for stage in GhostNet('ghostnet-1.0x').layers for b in stage
               if hasattr(b, 'ghost1'))


def test_widths_are_made_divisible_by_4():
    assert [make_divisible(v) for v in (6, 10, 16 * 1.3, 18, 1.5)] == \
        [8, 12, 20, 20, 4]
    model = GhostNet('ghostnet-1.3x')
    assert model.embed_dims[-1] == 1248 and model.conv_stem.out_channels \
        == 20
    # SE hidden width: make_divisible(expansion * 0.25)
    se = model.blocks[3][0].se
    assert se.conv_reduce.out_channels == make_divisible(
        make_divisible(72 * 1.3) * 0.25)
    assert isinstance(se.gate, nn.Hardsigmoid)


def test_norm_cfg_and_norm_eval():
    model = GhostNet(dict(width=0.25), norm_cfg=dict(type='BN', eps=1e-3),
                     norm_eval=True)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(m.eps == 1e-3 for m in norms)
    model.train()
    assert not any(m.training for m in norms)
    assert GhostNet(dict(width=0.25)).train().bn1.training


def test_any_input_size():
    model = GhostNet('ghostnetv2-1.0x', out_indices=(2, 4, 6, 9)).eval()
    outs = model(torch.randn(1, 3, 45, 70))
    sizes = [tuple(o.shape[-2:]) for o in outs]
    assert sizes == [(12, 18), (6, 9), (3, 5), (2, 3)]


def test_converter_is_registered_and_drops_thop_counters():
    ref = timm.create_model('ghostnet_050')
    state = dict(ref.state_dict())
    assert get_converter('GhostNet').recognises(state)
    state['blocks.0.0.ghost1.primary_conv.0.total_ops'] = torch.zeros(1)
    state['total_params'] = torch.zeros(1)
    converted = convert_ghostnet(state)
    assert len(converted) == len(state) - 2
    assert {'head.conv_head.weight', 'head.fc.bias',
            'backbone.blocks.9.0.bn1.running_var'} <= set(converted)
    with pytest.raises(KeyError, match=r"convert_ghostnet: 1 key\(s\) are "
                       r'not in the official / timm GhostNet layout: '
                       r"\['blocks.0.0.ghost1.primary_conv.2.weight'\]"):
        convert_ghostnet(
            {'blocks.0.0.ghost1.primary_conv.2.weight': torch.ones(1)})


def test_cls_head():
    head = GhostNetClsHead(10, 64, head_channels=32, dropout_rate=0.5)
    assert head.conv_head.out_channels == 32 and head.fc.in_features == 32
    assert head.dropout.p == 0.5
    head.eval()
    x = torch.randn(2, 64, 3, 4)
    pooled = torch.relu(head.conv_head(x.mean((2, 3), keepdim=True)))
    assert torch.allclose(head((x, )), head.fc(pooled.flatten(1)))
    with pytest.raises(ValueError, match=r"needs the \(B, 64, H, W\) map.*"
                       r"out_type='featmap'.*\(2, 64\)"):
        head((x.mean((2, 3)), ))


def test_bad_arch():
    with pytest.raises(ValueError, match=r"Unknown arch 'ghostnet-2.0x'.*"
                       r'ghostnetv2-1.6x'):
        GhostNet('ghostnet-2.0x')
    with pytest.raises(ValueError, match=r"missing \['width'\]"):
        GhostNet(dict(dfc=True))
    with pytest.raises(ValueError, match='valid indices are -10..9'):
        GhostNet(dict(width=0.25), out_indices=10)
