# Copyright (c) mmvitplug contributors.
"""DHVT: golden parity with the official code, any (H, W) grid, the class-
token excitation of dense outputs, parameter counts, errors.

``tests/data/dhvt_golden.pt`` was produced once from the official code
(ArieSeirack/DHVT ``vision_transformer.py``, ``VisionTransformer(...,
apply_dhvt=True)``; its ``helpers.py`` imports torchprofile, stubbed) in a
scratch environment: two tiny DHVTs (patch 4: 32 channels, 4 heads, 32x32
images; patch 16: 48 channels, 3 heads, 64x64 images; 2 blocks each) with
randomised norms, affines, biases, BN statistics, class token and head-
token position embeddings; their logits, each block's output, and the
parameter counts of the official tiny / small ImageNet and CIFAR models.
"""
import os.path as osp

import pytest
import torch

from mmvitplug.converters import convert_dhvt, get_converter
from mmvitplug.models.backbones import DHVT
from mmvitplug.models.utils.pretrained import load_pretrained
from _builders import TEST_DATA

GOLDEN = osp.join(TEST_DATA, 'dhvt_golden.pt')
TINY = dict(embed_dims=32, num_layers=2, num_heads=4, patch_size=4)


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def golden_arch(gold):
    kw = gold['kwargs']
    return dict(embed_dims=kw['embed_dim'], num_layers=kw['depth'],
                num_heads=kw['num_heads'], patch_size=kw['patch_size'])


def backbone_state(converted):
    return {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('name', ['p4', 'p16'])
def test_golden_parity_classifier(golden, name, fused_attn):
    """The official checkpoint, converted, in an mmpretrain classifier."""
    from mmpretrain.registry import MODELS
    gold = golden[name]
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.DHVT', arch=golden_arch(gold),
                          fused_attn=fused_attn),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=gold['kwargs']['embed_dim']))).eval()
    model.load_state_dict(convert_dhvt({'model': gold['state_dict']}))
    with torch.no_grad():
        logits = model(gold['x'], mode='tensor')
    assert (logits - gold['logits']).abs().max() <= 1e-4


@pytest.mark.parametrize('name', ['p4', 'p16'])
def test_golden_parity_blocks(golden, name):
    gold = golden[name]
    model = DHVT(golden_arch(gold), out_type='raw',
                 out_indices=(0, 1)).eval()
    model.load_state_dict(backbone_state(convert_dhvt(gold['state_dict'])))
    with torch.no_grad():
        outs = model(gold['x'])
    assert (outs[0] - gold['blocks'][0]).abs().max() <= 1e-4
    assert (outs[1] - model.norm(gold['blocks'][1])).abs().max() <= 1e-4


def test_converter_keeps_official_names(golden):
    state = golden['p16']['state_dict']
    assert get_converter('DHVT').recognises(state)
    converted = convert_dhvt(state)
    assert set(converted) == {
        f'backbone.{k}' for k in state if not k.startswith('head.')
    } | {'head.fc.weight', 'head.fc.bias'}
    with pytest.raises(KeyError, match=r"convert_dhvt: 1 key\(s\) are not "
                       r"in the official DHVT layout: \['blocks.0.attn."
                       r"q.weight'\]"):
        convert_dhvt({'blocks.0.attn.q.weight': torch.ones(1)})


@pytest.mark.parametrize('arch, classes, official', [
    ('dhvt-t', 1000, 'dhvt_tiny_imagenet_patch16'),
    ('dhvt-s', 1000, 'dhvt_small_imagenet_patch16'),
    ('dhvt-t-cifar-p4', 100, 'dhvt_tiny_cifar_patch4'),
    ('dhvt-s-cifar-p4', 100, 'dhvt_small_cifar_patch4'),
])
def test_param_counts_equal_official(golden, arch, classes, official):
    """Backbone + the linear head (ImageNet 1000 / CIFAR-100 classes)."""
    with torch.device('meta'):
        model = DHVT(arch)
    total = sum(p.numel() for p in model.parameters()) + \
        (model.embed_dims + 1) * classes
    assert round(total / 1e6, 3) == golden['num_params'][official]


@pytest.mark.parametrize('patch_size, convs', [(16, 4), (4, 2), (2, 1)])
def test_sope_halves_the_sides_per_convolution(patch_size, convs):
    model = DHVT(dict(embed_dims=32, num_layers=1, num_heads=4,
                      patch_size=patch_size), out_type='featmap').eval()
    strided = [m for m in model.patch_embed.modules()
               if isinstance(m, torch.nn.Conv2d)]
    assert len(strided) == convs and all(c.stride == (2, 2) for c in strided)
    assert [c.out_channels for c in strided] == \
        [32 // d for d in model.patch_embed.widths[patch_size]]
    # odd sides round up at every stride-2 convolution
    h, w = 3 * patch_size + 1, 5 * patch_size - 1
    for _ in range(convs):
        h, w = (h + 1) // 2, (w + 1) // 2
    out = model(torch.randn(1, 3, 3 * patch_size + 1, 5 * patch_size - 1))
    assert out[0].shape == (1, 32, h, w)


def transposed(model):
    """A copy whose convolution kernels are transposed in space: it maps
    transposed images to transposed maps if the blocks read the token
    grid in the right orientation."""
    copy = DHVT(TINY, out_type='featmap').eval()
    copy.load_state_dict({
        k: v.transpose(-1, -2) if v.dim() == 4 and v.shape[-1] > 1 else v
        for k, v in model.state_dict().items()
    })
    return copy


def test_any_grid_in_the_right_orientation(monkeypatch):
    """On a non-square grid the DAFF convolutions see the patches where
    they are: transposing kernels and image transposes the output."""
    torch.manual_seed(0)
    model = DHVT(TINY, out_type='featmap').eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(2, 3, 24, 40)  # a 6 x 10 grid
    with torch.no_grad():
        out = model(x)[0]
        flipped = transposed(model)(x.transpose(-1, -2))[0]
    assert out.shape == (2, 32, 6, 10)
    torch.testing.assert_close(flipped, out.transpose(-1, -2), atol=1e-5,
                               rtol=1e-5)
    # the check can fail: blocks reading the grid as (W, H) break it
    forward_stage = DHVT.forward_stage
    monkeypatch.setattr(
        DHVT, 'forward_stage',
        lambda self, i, x, grid: forward_stage(self, i, x, grid[::-1]))
    with torch.no_grad():
        out = model(x)[0]
        flipped = transposed(model)(x.transpose(-1, -2))[0]
    assert not torch.allclose(flipped, out.transpose(-1, -2), atol=1e-3)


def test_dense_outputs_build_no_unused_excitation(golden):
    """The class token of the last output block is read only by its DAFF
    excitation: with 'featmap' / 'avg_featmap' that block builds none (an
    unused parameter fails DDP); a classification checkpoint reports it
    unused; asking that model for the class token fails."""
    gold = golden['p4']
    arch = golden_arch(gold)
    dense = DHVT(arch, out_type='featmap', out_indices=(0, 1))
    assert not hasattr(dense.blocks[1].mlp, 'excitation')
    assert hasattr(dense.blocks[0].mlp, 'excitation')  # feeds block 1
    early = DHVT(arch, out_type='avg_featmap', out_indices=0)
    assert not hasattr(early.blocks[0].mlp, 'excitation')
    assert hasattr(early.blocks[1].mlp, 'excitation')  # after the output
    assert all(hasattr(b.mlp, 'excitation')
               for b in DHVT(arch, out_type='raw').blocks)
    report = load_pretrained(dense, gold['state_dict'], logger=None)
    assert report.missing_keys == []
    assert set(report.unexpected_keys) == {
        f'blocks.1.mlp.{m}.{t}' for m in ('compress', 'excitation')
        for t in ('weight', 'bias')}
    # the maps equal the full model's
    full = DHVT(arch, out_type='raw', out_indices=(0, 1))
    full.load_state_dict(backbone_state(convert_dhvt(gold['state_dict'])))
    with torch.no_grad():
        maps = dense.eval()(gold['x'])
        raws = full.eval()(gold['x'])
    for m, r in zip(maps, raws):
        torch.testing.assert_close(m.flatten(2).transpose(1, 2), r[:, 1:])
    with pytest.raises(ValueError, match="out_type 'cls_token' of block 1: "
                       "this DHVT was built for out_type='featmap'"):
        with dense.also_output('cls_token'):
            dense(gold['x'])


def test_bad_arguments_and_input():
    arch = dict(embed_dims=32, num_layers=1, num_heads=4)
    with pytest.raises(ValueError, match=r'patch_size must be one of '
                       r'\[2, 4, 16\], got 8'):
        DHVT(dict(arch, patch_size=8))
    with pytest.raises(ValueError, match=r'dim \(32\) must be divisible by '
                       r'num_heads \(3\)'):
        DHVT(dict(arch, num_heads=3))
    with pytest.raises(ValueError, match='dhvt-t-cifar-p4'):
        DHVT('dhvt-xs')
    with pytest.raises(ValueError, match='at least 16x16.*got 12x32'):
        DHVT(arch)(torch.randn(1, 3, 12, 32))
