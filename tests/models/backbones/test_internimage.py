# Copyright (c) mmvitplug contributors.
"""InternImage and DCNv3: golden parity with the official PyTorch path,
the official layer-decay ids, parameter counts, the converter, errors.

``tests/data/internimage_golden.pt`` was produced once from the official
code (OpenGVLab/InternImage ``classification/models/intern_image.py`` with
``core_op='DCNv3_pytorch'`` and ``ops_dcnv3/functions/dcnv3_func.py``
``dcnv3_core_pytorch``; the compiled ``DCNv3`` extension its import
needs was stubbed) in a scratch environment: six calls of the DCNv3 core
(5 x 7 inputs, offsets of ~1.5 pixels, several kernels, strides,
paddings, dilations, groups and offset scales) with their gradients, and
three tiny classifiers (8 channels, depths 1 / 1 / 2 / 1) in the
InternImage-T (pre-norm), -S/B (post-norm, layer scale) and -L/XL (offset
scale 2) settings, every parameter and BN statistic randomised, with
their logits and the four level outputs of ``forward_features_seq_out``.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.converters import convert_internimage, get_converter
from mmvitplug.layers import DCNv3, dcnv3_sample
from mmvitplug.models.backbones import InternImage
from mmvitplug.models.heads import InternImageClsHead
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'internimage_golden.pt')
TINY = dict(channels=8, depths=(1, 1, 2, 1), groups=(1, 2, 4, 8))


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def golden_arch(gold):
    kw = gold['kwargs']
    arch = dict(channels=kw['channels'], depths=kw['depths'],
                groups=kw['groups'], post_norm=kw['post_norm'],
                offset_scale=kw['offset_scale'])
    if kw.get('layer_scale') is not None:
        arch['layer_scale'] = kw['layer_scale']
    return arch


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


# ------------------------------------------------------------ DCNv3 core
def test_dcnv3_sample_equals_official_core(golden):
    """Outputs and gradients of the official ``dcnv3_core_pytorch``."""
    assert len(golden['core']) >= 6
    for case in golden['core']:
        inputs = [case[k].clone().requires_grad_()
                  for k in ('input', 'offset', 'mask')]
        out = dcnv3_sample(
            *inputs, case['kernel_size'], case['group'],
            stride=case['stride'], padding=case['pad'],
            dilation=case['dilation'], offset_scale=case['offset_scale'])
        assert (out - case['output']).abs().max() <= 1e-5, case['pad']
        (out * case['grad_weight']).sum().backward()
        for tensor, key in zip(inputs, ('input', 'offset', 'mask')):
            expected = case[f'grad_{key}']
            assert (tensor.grad - expected).abs().max() <= \
                1e-4 * max(1., expected.abs().max().item()), key


@pytest.mark.parametrize('kernel_size, dilation, offset_scale', [
    (3, 1, 1.), (3, 2, 1.), (5, 1, 1.), (3, 1, 2.)])
def test_undeformed_uniform_sampling_is_a_box_filter(kernel_size, dilation,
                                                     offset_scale):
    """Zero offsets and masks 1/P: the mean over the (dilation *
    offset_scale)-spaced kernel grid, zeros outside, i.e. a depth-wise
    convolution with a constant kernel."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, 9, 4)  # NHWC
    points = kernel_size**2
    spacing = int(dilation * offset_scale)
    pad = spacing * (kernel_size - 1) // 2
    out = dcnv3_sample(
        x, torch.zeros(2, 6, 9, 2 * 2 * points),
        torch.full((2, 6, 9, 2 * points), 1 / points), kernel_size, 2,
        padding=dilation * (kernel_size - 1) // 2, dilation=dilation,
        offset_scale=offset_scale)
    box = F.conv2d(
        x.permute(0, 3, 1, 2), torch.full((4, 1, kernel_size, kernel_size),
                                          1 / points),
        padding=pad, dilation=spacing, groups=4).permute(0, 2, 3, 1)
    assert torch.allclose(out, box, atol=1e-6)


def test_kernel_points_go_column_by_column_with_xy_offsets():
    """Point p is the kernel position (u, v) = (p // k, p % k) with u along
    the width, and an offset is an (x, y) pair: a one-hot mask on point p
    with offset (dx, dy) reads the pixel (j + u - 1 + dx, i + v - 1 + dy).
    """
    x = torch.arange(5 * 6, dtype=torch.float).view(1, 5, 6, 1)
    for p, (dx, dy) in [(1, (1, 0)), (3, (0, 1)), (5, (-1, 1))]:
        mask = torch.zeros(1, 5, 6, 9)
        mask[..., p] = 1
        offset = torch.zeros(1, 5, 6, 9, 2)
        offset[..., p, :] = torch.tensor([dx, dy], dtype=torch.float)
        out = dcnv3_sample(x, offset.flatten(3), mask, 3, 1, padding=1)
        u, v = divmod(p, 3)
        i, j = 2, 2
        assert out[0, i, j, 0] == x[0, i + v - 1 + dy, j + u - 1 + dx, 0]


def test_dcnv3_sample_errors():
    x = torch.randn(1, 4, 4, 6)
    with pytest.raises(ValueError, match='6 channels do not split into 4'):
        dcnv3_sample(x, torch.zeros(1, 4, 4, 72), torch.zeros(1, 4, 4, 36),
                     3, 4, padding=1)
    with pytest.raises(ValueError, match=r'offset must be \(1, 4, 4, 36\) '
                       r'and mask \(1, 4, 4, 18\); got \(1, 4, 4, 18\)'):
        dcnv3_sample(x, torch.zeros(1, 4, 4, 18), torch.zeros(1, 4, 4, 18),
                     3, 2, padding=1)
    with pytest.raises(ValueError, match='smaller than the kernel span 5'):
        dcnv3_sample(x, torch.zeros(1, 1, 1, 50), torch.zeros(1, 1, 1, 25),
                     5, 1, dilation=1, padding=0)


def test_low_precision_inputs_sample_in_float32():
    """bf16 in, bf16 out, sampled at float32 positions: on a 64-wide map
    bf16 coordinates would be off by up to a quarter of a pixel."""
    torch.manual_seed(0)
    x = torch.randn(1, 8, 64, 4)
    offset = torch.rand(1, 8, 64, 18) * 0.5
    mask = torch.softmax(torch.randn(1, 8, 64, 9), -1)
    ref = dcnv3_sample(x, offset, mask, 3, 1, padding=1)
    out = dcnv3_sample(x.bfloat16(), offset, mask, 3, 1, padding=1)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() <= 0.05


def test_dcnv3_layer_arguments():
    torch.manual_seed(0)
    layer = DCNv3(16, 4)
    # the official init: zero offsets, uniform masks
    assert not layer.offset.weight.any() and not layer.mask.bias.any()
    assert layer.offset.out_features == 4 * 9 * 2
    assert DCNv3(16, 2, kernel_size=5).mask.out_features == 2 * 25
    x = torch.randn(2, 6, 7, 16)
    outs = {}
    for name, kwargs in {'base': {}, 'kernel 5': dict(kernel_size=5),
                         'dilation 2': dict(dilation=2),
                         'offset scale 2': dict(offset_scale=2.)}.items():
        torch.manual_seed(0)
        layer = DCNv3(16, 4, **kwargs)
        with torch.no_grad():  # live offsets and masks
            for proj in (layer.offset, layer.mask):
                proj.weight.normal_(0, 0.2)
        outs[name] = layer(x)
        assert outs[name].shape == x.shape
    for name in ('kernel 5', 'dilation 2', 'offset scale 2'):
        assert not torch.allclose(outs[name], outs['base']), name
    with pytest.raises(ValueError, match=r'channels \(16\) must be '
                       r'divisible by groups \(3\)'):
        DCNv3(16, 3)
    with pytest.raises(ValueError, match='odd kernel_size; got 4'):
        DCNv3(16, 4, kernel_size=4)


def test_masks_are_a_softmax_per_group():
    """Each group's masks sum to 1 over its points: a constant input stays
    constant wherever every sample lands inside the image."""
    torch.manual_seed(0)
    layer = DCNv3(8, 2)
    with torch.no_grad():
        layer.mask.weight.normal_(0, 1.)
        layer.input_proj.weight.copy_(torch.eye(8))
        layer.output_proj.weight.copy_(torch.eye(8))
    x = torch.ones(1, 7, 7, 8)
    out = layer(x)
    assert torch.allclose(out[0, 1:-1, 1:-1], torch.ones(5, 5, 8),
                          atol=1e-6)


# -------------------------------------------------------------- backbone
@pytest.mark.parametrize('name', ['t_style', 's_style', 'l_style'])
def test_golden_parity_classifier(golden, name):
    """The official checkpoint, converted, in an mmpretrain classifier with
    :class:`InternImageClsHead`; and the four levels of its backbone."""
    from mmpretrain.registry import MODELS
    gold = golden['models'][name]
    arch = golden_arch(gold)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.InternImage', arch=arch),
            neck=None,
            head=dict(type='mmvitplug.InternImageClsHead', num_classes=10,
                      in_channels=8 * arch['channels']))).eval()
    model.load_state_dict(convert_internimage({'model': gold['state_dict']}))
    with torch.no_grad():
        logits = model(gold['input'], mode='tensor')
    assert (logits - gold['logits']).abs().max() <= 1e-4
    backbone = InternImage(arch, out_indices=(0, 1, 2, 3)).eval()
    backbone.load_state_dict(
        backbone_state(convert_internimage(gold['state_dict'])))
    with torch.no_grad():
        levels = backbone(gold['input'])
    for ours, theirs in zip(levels, gold['levels']):
        assert (ours - theirs.permute(0, 3, 1, 2)).abs().max() <= 1e-4


def test_golden_settings_are_the_sizes_settings(golden):
    """The three golden models are built in the T, S / B and L / XL
    settings of the arch zoo."""
    zoo = InternImage.arch_zoo
    for name, size in (('t_style', 'internimage-t'),
                       ('s_style', 'internimage-b'),
                       ('l_style', 'internimage-xl')):
        kw = golden['models'][name]['kwargs']
        assert kw['post_norm'] == zoo[size].get('post_norm', False)
        assert kw['offset_scale'] == zoo[size].get('offset_scale', 1.)
        assert (kw.get('layer_scale') is None) == \
            ('layer_scale' not in zoo[size])


def test_converter_is_registered_and_maps_every_key(golden):
    state = golden['models']['s_style']['state_dict']
    assert get_converter('InternImage').recognises(state)
    converted = convert_internimage(state)
    assert len(converted) == len(state)
    assert 'backbone.stages.2.1.ls1.gamma' in converted
    assert 'backbone.stages.0.0.dcn.dw_norm.weight' in converted
    assert 'backbone.downsample3.norm.bias' in converted
    assert 'head.conv_head.1.running_var' in converted
    assert not any('norm0' in k for k in converted)  # post-norm: none
    pre = convert_internimage(golden['models']['t_style']['state_dict'])
    assert 'backbone.norm3.weight' in pre
    # InternImage-H/G extras are not this layout
    with pytest.raises(KeyError, match=r"convert_internimage: 1 key\(s\) "
                       r'are not in the official InternImage-T/S/B/L/XL '
                       r"layout: \['levels.0.blocks.0.res_post_norm1.0."
                       r"weight'\]"):
        convert_internimage(
            {'levels.0.blocks.0.res_post_norm1.0.weight': torch.ones(1)})


@pytest.mark.parametrize('arch, official', [
    ('internimage-t', 29.918), ('internimage-s', 50.080),
    ('internimage-b', 97.462), ('internimage-l', 223.335),
    ('internimage-xl', 334.820)])
def test_param_counts_equal_official(arch, official):
    """Backbone + the classification head (1000 classes), in millions, as
    the official models count them."""
    with torch.device('meta'):
        backbone = InternImage(arch)
        head = InternImageClsHead(1000, backbone.embed_dims[-1])
    total = sum(p.numel() for m in (backbone, head) for p in m.parameters())
    assert round(total / 1e6, 3) == official


def official_layer_id(name, depths):
    """``get_num_layer_for_swin`` of the official detection /
    segmentation ``CustomLayerDecayOptimizerConstructor``, on official
    backbone names."""
    fields = name.split('.')
    if fields[0] == 'patch_embed':
        return 0
    if fields[0] == 'levels':
        stage = int(fields[1])
        if fields[2] not in ('downsample', 'norm'):
            return int(fields[3]) + 1 + sum(depths[:stage])
        return 1 + sum(depths[:stage + 1])
    return sum(depths) + 1


@pytest.mark.parametrize('arch', ['internimage-t', 'internimage-s'])
def test_layer_depths_are_the_official_layer_decay_ids(arch):
    """Every backbone parameter has the official layer id, and the number
    of depths is the official ``num_layers + 2``."""
    with torch.device('meta'):
        model = InternImage(arch)
    depths = model.depths
    official = {}
    for name, _ in model.named_parameters():
        off = name
        if name.startswith('stages.'):
            _, s, i, rest = name.split('.', 3)
            off = f'levels.{s}.blocks.{i}.{rest}'
        elif name.startswith('norm'):
            off = f'levels.{name[4]}.norm.0.{name.split(".")[-1]}'
        elif name.startswith('downsample'):
            off = f'levels.{int(name[10]) - 1}.downsample.' + \
                name.split('.', 1)[1]
        official[name] = official_layer_id(off, depths)
    for name, layer_id in official.items():
        assert model.get_layer_depth(name) == \
            (layer_id, sum(depths) + 2), name
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == \
        (sum(depths) + 1, sum(depths) + 2)


def test_post_norm_models_have_no_level_norms():
    model = InternImage('internimage-s', out_indices=(0, 1, 2, 3))
    assert all(getattr(model, f'norm{i}') is None for i in range(4))
    pre = InternImage('internimage-t')
    assert all(isinstance(getattr(pre, f'norm{i}'), nn.LayerNorm)
               for i in range(4))
    block = model.stages[2][0]
    assert block.post_norm and block.ls1.gamma.eq(1e-5).all()
    assert isinstance(pre.stages[2][0].ls1, nn.Identity)
    assert model.stages[3][0].dcn.offset_scale == 1.
    assert InternImage('internimage-l').stages[3][0].dcn.offset_scale == 2.


def test_arch_options_and_dropout():
    model = InternImage(dict(TINY, mlp_ratio=2.), drop_rate=0.3)
    mlp = model.stages[0][0].mlp
    assert mlp.fc1.out_features == 16 and mlp.drop.p == 0.3
    assert InternImage(TINY).stages[0][0].mlp.fc1.out_features == 32


def test_any_input_size_rounds_odd_sides_up():
    model = InternImage(TINY, out_indices=(0, 1, 2, 3)).eval()
    outs = model(torch.randn(1, 3, 37, 70))
    # 37 -> 19 -> 10 -> 5 -> 3 -> 2; 70 -> 35 -> 18 -> 9 -> 5 -> 3
    assert [o.shape[-2:] for o in outs] == [(10, 18), (5, 9), (3, 5),
                                            (2, 3)]


def test_bad_arch():
    with pytest.raises(ValueError, match=r'Unknown arch .*internimage-xl'):
        InternImage('internimage-h')
    with pytest.raises(ValueError, match=r'a level of 16 channels cannot '
                       r'have 3 DCNv3 groups'):
        InternImage(dict(TINY, groups=(1, 3, 4, 8)))
    with pytest.raises(ValueError, match='4 stages: arch depths needs 4'):
        InternImage(dict(TINY, depths=(1, 1, 2), groups=(1, 2, 4)))


def test_cls_head():
    head = InternImageClsHead(10, 64, cls_scale=2.)
    assert head.conv_head[0].out_channels == 128 and head.fc.in_features \
        == 128
    x = torch.randn(2, 64, 3, 4)
    logits = head((x, ))
    assert logits.shape == (2, 10)
    pooled = head.conv_head(x).mean(dim=(2, 3))
    assert torch.allclose(logits, head.fc(pooled))
    with pytest.raises(ValueError, match=r"needs the \(B, 64, H, W\) map.*"
                       r"out_type='featmap'.*\(2, 64\)"):
        head((x.mean(dim=(2, 3)), ))
