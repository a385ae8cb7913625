# Copyright (c) mmvitplug contributors.
"""The mmpretrain backbone contract of the staged (pyramid) families.

The flat trunks (one block a stage) are checked in ``test_contract.py``;
here each staged family (stages of several layers: LeViT, PiT, CvT, CMT...)
is described by a :class:`StagedFamily` spec: a tiny arch, its out_types,
the feature-map shapes it must give at two input sizes, and so on. What the
stem, the stages and the top are is read from the parts the backbone
declares, independently of the base's bookkeeping (layer ``j`` counted
over the stages has depth ``j + 1``), and
:func:`test_layer_depth_is_where_parameters_enter` checks those declarations
against the order in which a forward pass first uses each parameter.
What only one family does (parity, converters, attention biases, BN
fusion, ...) is tested in that family's own test file.
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import pytest
import torch
import torch.nn as nn
import torch.utils.checkpoint

from mmvitplug.layers import DropPath
from mmvitplug.models.backbones.archnet_resnet import ArchNetResNet
from mmvitplug.models.backbones.cmt import CMT
from mmvitplug.models.backbones.cvt import CvT
from mmvitplug.models.backbones.g_ghost_regnet import GGhostRegNet
from mmvitplug.models.backbones.ghostnet import GhostNet
from mmvitplug.models.backbones.hatnet import HATNet
from mmvitplug.models.backbones.internimage import InternImage
from mmvitplug.models.backbones.levit import LeViT
from mmvitplug.models.backbones.lit import LIT
from mmvitplug.models.backbones.litv2 import LITv2
from mmvitplug.models.backbones.pit import PiT
from mmvitplug.models.backbones.revcol import RevCol
from mmvitplug.models.backbones.sret import SReT
from _builders import TINY_ARCHS, TINY_KWARGS
from _contract import (ToyPyramid, check_drop_front_continues,
                       check_pretrained_loads_once, check_with_cp_identical,
                       entry_depths, perturb, randomize, square_loss, tensors)

Size = Tuple[int, int]


@dataclass(frozen=True)
class StagedFamily:
    """How one staged backbone family meets the contract."""
    cls: type
    arch: dict  # tiny arch dict
    kwargs: dict  # other constructor arguments of the tiny model
    out_types: Tuple[str, ...]  # expected ``cls.out_types``
    # input size -> (channels, height, width) of each stage's featmap; the
    # first size is the one the other checks use, give a non-square one too
    shapes: Dict[Size, Tuple[Tuple[int, int, int], ...]]
    # named constructor variants the checks run on; the first is the default
    variants: Dict[str, dict] = field(default_factory=lambda: {'base': {}})
    full: str = 'base'  # the variant that builds every part
    bad_input: Optional[Tuple[Size, str]] = None  # image size, error match
    drop_path: Optional[str] = None  # 'linear' / 'uniform' over the layers
    fused_attn: bool = False  # the constructor takes fused_attn
    cp_extra_calls: int = 0  # checkpointed calls besides the trunk layers
    frozen_kwargs: dict = field(default_factory=dict)
    grad_setup: Optional[Callable] = None  # keeps every parameter alive
    in_channels: bool = True  # the constructor takes in_channels
    # RevCol: stages are the levels of its columns; every column but the
    # last runs every level, and depths and stochastic depth go by block
    # and column (test_revcol.py checks them)
    columns: bool = False
    # every stage changes the map's shape; GhostNet: stages of one stride
    # follow each other (timm's blocks.{i}), only their values differ
    pyramid: bool = True
    label: Optional[str] = None  # test id when a class has several specs

    @property
    def name(self):
        return self.cls.__name__

    @property
    def id(self):
        return self.label or self.name

    @property
    def size(self) -> Size:
        return next(iter(self.shapes))

    @property
    def num_stages(self):
        return len(self.shapes[self.size])


TOY = StagedFamily(
    cls=ToyPyramid,
    arch=dict(dims=(4, 8, 16), depths=(1, 2, 1)),
    kwargs={},
    out_types=('featmap', 'avg_featmap'),
    shapes={
        (32, 32): ((4, 8, 8), (8, 4, 4), (16, 2, 2)),
        (32, 48): ((4, 8, 12), (8, 4, 6), (16, 2, 3)),
    },
    frozen_kwargs={},
    label='Toy')

FAMILIES = [
    TOY,
    StagedFamily(
        cls=CvT,
        arch=TINY_ARCHS['CvT'],
        kwargs=TINY_KWARGS['CvT'],
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        shapes={
            (32, 32): ((16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (37, 29): ((16, 9, 7), (24, 5, 4), (32, 3, 2)),
        },
        variants={'cls_token': {}, 'gelu': dict(act_type='gelu')},
        full='cls_token',
        bad_input=((2, 9), 'CvT input 2x9 is too small.*at least 3 pixels'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(
        cls=PiT,
        arch=TINY_ARCHS['PiT'],
        kwargs=TINY_KWARGS['PiT'],
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        shapes={
            (32, 32): ((16, 7, 7), (32, 4, 4), (64, 2, 2)),
            (32, 48): ((16, 7, 11), (32, 4, 6), (64, 2, 3)),
        },
        variants={'plain': {}, 'distilled': dict(distilled=True)},
        full='plain',
        bad_input=((4, 40), 'at least 8x8 pixels.*got 4x40'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(
        cls=CMT,
        arch=TINY_ARCHS['CMT'],
        kwargs=TINY_KWARGS['CMT'],
        out_types=('pre_logits', 'featmap', 'avg_featmap', 'raw'),
        shapes={  # 96 wide: position biases resized to other grids
            (64, 64): ((8, 16, 16), (16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (64, 96): ((8, 16, 24), (16, 8, 12), (24, 4, 6), (32, 2, 3)),
        },
        bad_input=((64, 80), 'CMT input 64x80 is not divisible by 32'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(
        cls=LITv2,
        arch=TINY_ARCHS['LITv2'],
        kwargs=TINY_KWARGS['LITv2'],
        out_types=('avg_featmap', 'featmap', 'raw'),
        shapes={  # odd sides rounded down, HiLo pads its 2x2 windows
            (64, 64): ((8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)),
            (64, 100): ((8, 16, 25), (16, 8, 12), (32, 4, 6), (64, 2, 3)),
        },
        bad_input=((28, 64), 'LITv2 needs images of at least 32x32'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(
        cls=HATNet,
        arch=TINY_ARCHS['HATNet'],
        kwargs=TINY_KWARGS['HATNet'],
        out_types=('avg_featmap', 'featmap'),
        shapes={  # 100 wide: cells padded and masked, sides rounded up
            (64, 64): ((8, 16, 16), (16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (64, 100): ((8, 16, 25), (16, 8, 13), (24, 4, 7), (32, 2, 4)),
        },
        bad_input=((28, 64), 'HATNet needs images of at least 32x32'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(
        cls=RevCol,
        arch=TINY_ARCHS['RevCol'],
        out_types=('featmap', 'avg_featmap'),
        shapes={  # 100 wide: padded to 128, maps cropped to ceil(100 / s)
            (64, 64): ((8, 16, 16), (16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (64, 100): ((8, 16, 25), (16, 8, 13), (24, 4, 7), (32, 2, 4)),
        },
        kwargs=TINY_KWARGS['RevCol'],
        drop_path='linear',
        columns=True),
    StagedFamily(
        cls=GGhostRegNet,
        arch=TINY_ARCHS['GGhostRegNet'],
        kwargs=TINY_KWARGS['GGhostRegNet'],
        out_types=('featmap', 'avg_featmap'),
        shapes={  # 100 wide: stride-2 convolutions round odd sides up
            (64, 64): ((16, 16, 16), (32, 8, 8), (48, 4, 4), (64, 2, 2)),
            (64, 100): ((16, 16, 25), (32, 8, 13), (48, 4, 7), (64, 2, 4)),
        },
        # G-Ghost stages 1-3, or only stage 2 (the pattern of regnetx-032)
        variants={'ghost': {}, 'mid': dict(arch=dict(
            depths=(2, 2, 4, 1), widths=(16, 32, 48, 64), group_width=8))},
        full='ghost'),
    StagedFamily(
        cls=ArchNetResNet,
        arch=TINY_ARCHS['ArchNetResNet'],
        kwargs=TINY_KWARGS['ArchNetResNet'],
        out_types=('featmap', 'avg_featmap'),
        shapes={  # 100 wide: stride-2 convolutions round odd sides up
            (64, 64): ((8, 16, 16), (16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (64, 100): ((8, 16, 25), (16, 8, 13), (24, 4, 7), (32, 2, 4)),
        },
        # 2w4a (the default), and every quantiser off: the full-precision
        # one is checked for frozen parts (a frozen, eval-mode BN with its
        # initial statistics feeds 4-bit quantisers of fixed scale 0.1
        # values that round to 0: no gradient reaches the later stages)
        variants={'2w4a': {}, 'fp': dict(w_bits=None, a_bits=None)},
        full='fp'),
    StagedFamily(  # bottlenecks with split convolutions
        cls=ArchNetResNet,
        arch=TINY_ARCHS['ArchNetResNet-bottleneck'],
        kwargs=TINY_KWARGS['ArchNetResNet-bottleneck'],
        out_types=('featmap', 'avg_featmap'),
        shapes={
            (64, 64): ((32, 16, 16), (64, 8, 8), (96, 4, 4), (128, 2, 2)),
            (64, 100): ((32, 16, 25), (64, 8, 13), (96, 4, 7), (128, 2, 4)),
        },
        variants={'2w4a': {}, 'fp': dict(w_bits=None, a_bits=None)},
        full='fp',
        label='ArchNetResNet-bottleneck'),
    StagedFamily(
        cls=GhostNet,
        arch=TINY_ARCHS['GhostNet'],
        kwargs=TINY_KWARGS['GhostNet'],
        out_types=('featmap', 'avg_featmap'),
        # 128 px: DFC pools the stride-32 maps to 2 x 2 (on 1 x 1 maps the
        # BNs around its 1x5 / 5x1 convolutions cancel each other's shifts)
        shapes={  # 100 wide: stride-2 convolutions round odd sides up
            (128, 128): ((4, 64, 64), (8, 32, 32), (8, 32, 32),
                         (12, 16, 16), (12, 16, 16), (20, 8, 8), (28, 8, 8),
                         (40, 4, 4), (40, 4, 4), (240, 4, 4)),
            (64, 100): ((4, 32, 50), (8, 16, 25), (8, 16, 25), (12, 8, 13),
                        (12, 8, 13), (20, 4, 7), (28, 4, 7), (40, 2, 4),
                        (40, 2, 4), (240, 2, 4)),
        },
        # GhostNetV2: DFC attention in the bottlenecks after the second
        variants={'v1': {}, 'v2': dict(arch=dict(width=0.25, dfc=True))},
        full='v2',
        pyramid=False),
    StagedFamily(
        cls=InternImage,
        arch=TINY_ARCHS['InternImage'],
        kwargs=TINY_KWARGS['InternImage'],
        out_types=('featmap', 'avg_featmap'),
        shapes={  # 100 wide: stride-2 convolutions round odd sides up
            (64, 64): ((8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)),
            (64, 100): ((8, 16, 25), (16, 8, 13), (32, 4, 7), (64, 2, 4)),
        },
        # pre-norm builds the level norms; post-norm with layer scales
        # (InternImage-S and larger) has none
        variants={
            'pre_norm': {},
            'post_norm': dict(arch=dict(
                TINY_ARCHS['InternImage'], post_norm=True, layer_scale=0.5,
                offset_scale=2.0)),
        },
        full='pre_norm',
        drop_path='linear',
        frozen_kwargs=dict(drop_rate=0.5),
        # offsets and masks start as zero projections (the official init),
        # which no gradient reaches the depth-wise convolution through
        grad_setup=lambda m: [nn.init.normal_(d.weight, std=0.1)
                              for n, d in m.named_modules()
                              if n.endswith(('dcn.offset', 'dcn.mask'))]),
    StagedFamily(
        cls=LIT,
        arch=TINY_ARCHS['LIT'],
        kwargs=TINY_KWARGS['LIT'],
        out_types=('avg_featmap', 'cls_token', 'featmap', 'raw'),
        shapes={  # 100 wide: padded to 100, tables resized, odd sides floor
            (64, 64): ((8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)),
            (64, 98): ((8, 16, 25), (16, 8, 12), (32, 4, 6), (64, 2, 3)),
        },
        bad_input=((28, 64), 'LIT needs images of at least 32x32'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(  # LIT-Ti style: position embeddings, class token
        cls=LIT,
        arch=TINY_ARCHS['LIT-Ti'],
        kwargs=TINY_KWARGS['LIT-Ti'],
        out_types=('avg_featmap', 'cls_token', 'featmap', 'raw'),
        shapes={  # position embeddings resized bilinearly
            (64, 64): ((8, 16, 16), (16, 8, 8), (24, 4, 4), (32, 2, 2)),
            (64, 98): ((8, 16, 25), (16, 8, 12), (24, 4, 6), (32, 2, 3)),
        },
        variants={'cls_token': {}, 'no_cls_token': dict(
            with_cls_token=False)},
        full='cls_token',
        bad_input=((28, 64), 'LIT needs images of at least 32x32'),
        drop_path='linear',
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5),
        label='LIT-Ti'),
    StagedFamily(
        cls=SReT,
        arch=TINY_ARCHS['SReT'],
        kwargs=TINY_KWARGS['SReT'],
        out_types=('pre_logits', 'avg_featmap', 'featmap', 'raw'),
        shapes={  # 100 wide: sides rounded up, slices padded and masked
            (64, 64): ((8, 8, 8), (16, 4, 4), (32, 2, 2)),
            (64, 100): ((8, 8, 13), (16, 4, 7), (32, 2, 4)),
        },
        bad_input=((28, 64), 'SReT needs images of at least 32x32'),
        # the official spread, not linear to the rate: test_sret.py
        fused_attn=True,
        frozen_kwargs=dict(drop_rate=0.5)),
    StagedFamily(  # any input size: no bad_input
        cls=LeViT,
        arch=TINY_ARCHS['LeViT'],
        kwargs=TINY_KWARGS['LeViT'],
        out_types=('avg_featmap', 'featmap', 'raw'),
        shapes={  # 80 x 48: attention biases resized, odd grids subsampled
            (96, 96): ((16, 6, 6), (24, 3, 3), (32, 2, 2)),
            (80, 48): ((16, 5, 3), (24, 3, 2), (32, 2, 1)),
        },
        drop_path='uniform',
        fused_attn=True,
        # residual-branch BNs start at scale 0: open them
        grad_setup=lambda m: [nn.init.ones_(b.weight) for b in m.modules()
                              if isinstance(b, nn.BatchNorm1d)]),
]
FAMILY_IDS = [f.id for f in FAMILIES]
VARIANTS = [
    pytest.param(fam, variant, id=f'{fam.id}-{variant}')
    for fam in FAMILIES for variant in fam.variants
]


def for_families(*filters):
    """Parametrize ``fam`` over the families that pass every filter."""
    fams = [f for f in FAMILIES if all(check(f) for check in filters)]
    return pytest.mark.parametrize('fam', fams, ids=[f.id for f in fams])


every_family = for_families()


# ------------------------------------------------------------------ helpers
def build(fam, *, variant=None, seed=0, init=True, **kwargs):
    cfg = dict(fam.kwargs, arch=fam.arch)
    cfg.update(fam.variants[variant] if variant else {})
    cfg.update(kwargs)
    torch.manual_seed(seed)
    model = fam.cls(**cfg)
    if init:
        model.init_weights()
    return model


def all_stages(fam):
    return tuple(range(fam.num_stages))


def images(fam, batch, size=None, channels=3):
    return torch.randn(batch, channels, *(size or fam.size))


def stage_of(model, name):
    """Where a parameter / module name sits, read off the declared parts:
    ('stem', None), ('layer', trunk layer index) or ('top', None)."""
    parts = type(model).parts
    head, _, rest = name.partition('.')
    if head in parts.stem:
        return 'stem', None
    if head in parts.top:
        return 'top', None
    joins = dict(parts.joins)
    if head in joins:  # entering before trunk layer j (LITv2's norm{i})
        j = getattr(model, joins[head])
        if j == 0:
            return 'stem', None
        if j == model.num_trunk_layers:
            return 'top', None
        return 'layer', j
    assert head == parts.stages, f'{name!r} is in no declared part'
    fields = rest.split('.')
    stages = getattr(model, parts.stages)
    stage = int(fields[0])
    first = sum(
        len(s) if isinstance(s, (nn.ModuleList, nn.Sequential)) else 1
        for s in list(stages)[:stage])
    if isinstance(stages[stage], (nn.ModuleList, nn.Sequential)):
        if len(fields) == 1:
            return 'stage', stage  # the stage container itself
        return 'layer', first + int(fields[1])
    return 'layer', first


def stage_of_layer(model, layer):
    bounds, total = [], 0
    for stage in model.layers:
        total += len(stage)
        bounds.append(total)
    return sum(1 for b in bounds if b <= layer)


def expected_depth(model, name):
    kind, index = stage_of(model, name)
    if kind == 'stem':
        return 0
    if kind == 'layer':
        return index + 1
    return model.num_trunk_layers + 1


def is_frozen(model, name, frozen_stages):
    """Stem from 0, stage i from i + 1, the top only with every stage."""
    kind, index = stage_of(model, name)
    if kind == 'stem':
        return frozen_stages >= 0
    if kind == 'layer':
        return stage_of_layer(model, index) < frozen_stages
    if kind == 'stage':
        return index < frozen_stages
    return frozen_stages == model.num_stages


def trunk_layers(model):
    return [layer for stage in model.layers for layer in stage]


# ------------------------------------------------------------- arch, errors
@every_family
def test_arch_dict_and_zoo_name(fam):
    model = build(fam)
    assert model.arch_settings == fam.arch
    assert model.arch_settings is not fam.arch  # a copy
    assert model.num_stages == fam.num_stages
    assert len(model.layers) == fam.num_stages
    for name in sorted(fam.cls.arch_zoo)[:3]:
        with torch.device('meta'):
            model = fam.cls(name)
        assert model.arch_settings == fam.cls.arch_zoo[name]
        assert model.arch_settings is not fam.cls.arch_zoo[name]


def _bad_arguments(fam):
    zoo = sorted(fam.cls.arch_zoo)
    required = fam.cls.arch_keys[-1]
    n = fam.num_stages
    cases = {
        'unknown-arch': (dict(arch='no-such-arch'),
                         "Unknown arch 'no-such-arch'; choose from " +
                         re.escape(str(zoo))),
        'other-family-arch': (dict(arch='deit-tiny'),
                              "Unknown arch 'deit-tiny'"),
        'arch-type': (dict(arch=3), f'arch must be a name of {fam.name}'
                      r'\.arch_zoo or a dict, got int'),
        'arch-missing-key': (dict(arch={
            k: v
            for k, v in fam.arch.items() if k != required
        }), rf"missing \['{required}'\]"),
        'arch-unknown-key': (dict(arch=dict(fam.arch, no_such_key=3)),
                             r"unknown \['no_such_key'\]"),
        'out-index-too-big': (dict(out_indices=n),
                              rf'entry {n} is out of range.*-{n}\.\.{n - 1}'),
        'out-index-too-small': (dict(out_indices=(0, -n - 1)),
                                rf'entry -{n + 1} is out of range'),
        'out-type': (dict(out_type='pooled'),
                     "Unknown out_type 'pooled'.*" +
                     re.escape(str(list(fam.out_types)))),
        'frozen-stages-too-big': (dict(frozen_stages=n + 1),
                                  rf'\[-1, {n}\], got {n + 1}'),
        'frozen-stages-too-small': (dict(frozen_stages=-2),
                                    rf'\[-1, {n}\], got -2'),
    }
    return [
        pytest.param(fam, kwargs, match, id=f'{fam.id}-{case}')
        for case, (kwargs, match) in cases.items()
    ]


@pytest.mark.parametrize('fam, kwargs, match',
                         [c for f in FAMILIES for c in _bad_arguments(f)])
def test_bad_arguments(fam, kwargs, match):
    assert fam.cls.out_types == fam.out_types
    with pytest.raises(ValueError, match=match):
        build(fam, **kwargs)


@for_families(lambda f: f.bad_input is not None)
def test_bad_input_size(fam):
    size, match = fam.bad_input
    model = build(fam)
    with pytest.raises(ValueError, match=match):
        model(torch.randn(1, 3, *size))


# -------------------------------------------------------------- outputs
@every_family
def test_featmaps_at_every_size(fam):
    """NCHW contiguous maps of every stage, at each listed input size."""
    model = build(fam, out_type='featmap', out_indices=all_stages(fam))
    model.eval()
    for size, shapes in fam.shapes.items():
        outs = model(images(fam, 2, size))
        assert [tuple(o.shape) for o in outs] == \
            [(2, *shape) for shape in shapes], size
        # contiguous NCHW: mmcv's RoIAlign misreads channels-last
        assert all(o.is_contiguous() for o in outs)


@every_family
def test_out_indices_select_stage_outputs(fam):
    """Each index gives the same map alone as among all the stages, and
    the forward pass stops after the last requested stage."""
    everything = perturb(build(fam, out_type='featmap',
                               out_indices=all_stages(fam))).eval()
    x = images(fam, 2)
    outs = everything(x)
    for i in all_stages(fam):
        model = build(fam, out_type='featmap', out_indices=i).eval()
        model.load_state_dict(everything.state_dict())
        ran = []
        for j, stage in enumerate(model.layers):
            for layer in stage:
                layer.register_forward_hook(lambda *_, j=j: ran.append(j))
        (out, ) = model(x)
        torch.testing.assert_close(out, outs[i])
        assert max(ran) == (fam.num_stages - 1 if fam.columns else i)
    if fam.pyramid:
        assert len({o.shape[1:] for o in outs}) == len(outs)
    for a, b in zip(outs, outs[1:]):  # consecutive stages differ
        assert a.shape != b.shape or not torch.allclose(a, b)


@for_families(lambda f: 'avg_featmap' in f.out_types)
def test_avg_featmap_is_the_mean_of_featmap(fam):
    featmap = perturb(build(fam, out_type='featmap',
                            out_indices=all_stages(fam))).eval()
    avg = build(fam, out_type='avg_featmap', out_indices=all_stages(fam))
    avg.load_state_dict(featmap.state_dict())
    x = images(fam, 2)
    for mean, maps in zip(avg.eval()(x), featmap(x)):
        torch.testing.assert_close(mean, maps.mean((2, 3)))


@for_families(lambda f: f.fused_attn)
def test_fused_attn_switch(fam):
    for variant in fam.variants:
        fused = randomize(build(fam, variant=variant))
        explicit = build(fam, variant=variant, fused_attn=False)
        switches = [m.fused_attn for m in fused.modules()
                    if hasattr(m, 'fused_attn')]
        assert switches and all(switches), variant
        assert not any(m.fused_attn for m in explicit.modules()
                       if hasattr(m, 'fused_attn')), variant
        explicit.load_state_dict(fused.state_dict())
        x = images(fam, 2)
        torch.testing.assert_close(
            tensors(fused.eval()(x)), tensors(explicit.eval()(x)),
            atol=1e-4, rtol=1e-4, msg=variant)


# ------------------------------------------------------------- training
@pytest.mark.parametrize('fam, variant', VARIANTS)
def test_all_parameters_receive_gradients(fam, variant):
    kwargs = dict(drop_path_rate=0.1) if fam.drop_path else {}
    model = perturb(build(fam, variant=variant, out_type='featmap',
                          out_indices=all_stages(fam), **kwargs))
    if fam.grad_setup is not None:
        fam.grad_setup(model)
    square_loss(model(images(fam, 4))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@every_family
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 'all'])
def test_frozen_stages(fam, frozen_stages):
    """Frozen parts: no gradient, eval mode in train(), unchanged by steps.
    """
    if frozen_stages == 'all':
        frozen_stages = fam.num_stages
    model = build(fam, variant=fam.full, frozen_stages=frozen_stages,
                  out_type='featmap', out_indices=all_stages(fam),
                  **fam.frozen_kwargs)
    frozen = {
        n: is_frozen(model, n, frozen_stages)
        for n, _ in model.named_parameters()
    }
    assert any(frozen.values()) == (frozen_stages >= 0)
    for name, p in model.named_parameters():
        assert p.requires_grad != frozen[name], name

    model.train()
    for name, m in model.named_modules():
        if name and not isinstance(m, (nn.ModuleList, nn.Sequential)):
            assert m.training != is_frozen(model, name, frozen_stages), name

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    # all parameters go to the optimizer, as in an mmengine runner, with a
    # trainable scale standing for a head (every stage may be frozen)
    scale = nn.Parameter(torch.ones(()))
    opt = torch.optim.SGD([*model.parameters(), scale], lr=0.1,
                          momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        outs = model(images(fam, 2))
        sum((scale * o).square().mean() for o in tensors(outs)).backward()
        opt.step()
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == frozen[name], name
    # frozen BatchNorms keep their running statistics, the others update
    for name, b in model.named_buffers():
        if name.endswith(('running_mean', 'running_var',
                          'num_batches_tracked')):
            assert torch.equal(b, buffers[name]) == \
                is_frozen(model, name, frozen_stages), name


@pytest.mark.parametrize('fam, variant', VARIANTS)
def test_with_cp_identical(fam, variant, monkeypatch):
    """Checkpointed layers: same outputs and gradients, only in training."""
    kwargs = dict(drop_path_rate=0.3) if fam.drop_path else {}
    kwargs.update(variant=variant, out_type='featmap',
                  out_indices=all_stages(fam))
    check_with_cp_identical(
        lambda **kw: build(fam, **kwargs, **kw), images(fam, 4),
        lambda model: model.num_trunk_layers + fam.cp_extra_calls,
        monkeypatch)


@for_families(lambda f: f.drop_path is not None and not f.columns)
def test_drop_path_rate(fam):
    """Stochastic depth in the trunk layers only, with the family's
    schedule over the layers that have it (downsampling layers have
    none)."""
    model = build(fam, variant=fam.full, drop_path_rate=0.2)
    layers = trunk_layers(model)
    in_layers = set()
    rates = []
    for layer in layers:
        found = {m.drop_prob for m in layer.modules()
                 if isinstance(m, DropPath)}
        in_layers |= {id(m) for m in layer.modules()}
        drops = [n for n, m in layer.named_modules()
                 if re.fullmatch(r'(.*\.)?drop_path\d?', n)]
        if drops:
            assert len(found) <= 1, found  # one rate per layer
            rates.append(found.pop() if found else 0.)
    n = len(rates)
    assert n >= 2, 'no stochastic depth found in the trunk layers'
    expected = [0.2 * i / (n - 1) for i in range(n)] \
        if fam.drop_path == 'linear' else [0.2] * n
    assert rates == pytest.approx(expected)
    outside = [n for n, m in model.named_modules()
               if isinstance(m, DropPath) and id(m) not in in_layers]
    assert not outside, outside
    # noisy vectors: residual branches that end in a zero-initialised
    # scale (LeViT's BatchNorms) must not hide the dropped paths
    perturb(model)
    x = images(fam, 4)
    model.train()
    assert not torch.allclose(tensors(model(x))[0], tensors(model(x))[0])
    model.eval()
    torch.testing.assert_close(tensors(model(x))[0], tensors(model(x))[0])
    assert not any(isinstance(m, DropPath) for m in build(fam).modules())


# ---------------------------------------------------- lr decay, weights
@for_families(lambda f: not f.columns)
def test_get_layer_depth(fam):
    model = build(fam, variant=fam.full)
    depth = model.get_layer_depth
    num_depths = model.num_trunk_layers + 2
    assert model.num_trunk_layers == sum(
        len(s) for s in model.layers) > fam.num_stages
    for name, _ in model.named_parameters():
        expected = (expected_depth(model, name), num_depths)
        assert depth(name) == expected, name
        assert depth('backbone.' + name, prefix='backbone.') == expected, name
    top = (num_depths - 1, num_depths)
    assert depth('head.fc.weight', prefix='backbone.') == top
    with pytest.raises(KeyError, match='not a parameter of'):
        depth('backbone.no_such.weight', prefix='backbone.')


@pytest.mark.parametrize('fam, variant', [
    p for p in VARIANTS if not p.values[0].columns
])
def test_layer_depth_is_where_parameters_enter(fam, variant):
    """The declared depth of every parameter is where the forward pass
    first uses it: in the stem (0), in trunk layer j (j + 1), or after the
    last layer (the top). Training mode, so that nothing is served from an
    inference cache."""
    model = build(fam, variant=variant, out_type='featmap',
                  out_indices=all_stages(fam)).train()
    entered = entry_depths(model, trunk_layers(model),
                           lambda: model(images(fam, 2)))
    for name, _ in model.named_parameters():
        assert model.get_layer_depth(name)[0] == entered[name], name


@every_family
def test_other_init_cfg_applies_on_top(fam):
    model = build(fam, variant=fam.full,
                  init_cfg=dict(type='Constant', layer='Conv2d', val=0.5))
    # subclasses too (ArchNetResNet's QuantConv2d): mmengine matches the
    # layer names of the base classes
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs
    assert all(torch.all(m.weight == 0.5) for m in convs)


@pytest.mark.parametrize('fam, prefix', [
    pytest.param(f, prefix, id=f'{f.id}-{prefix or "bare"}')
    for f in FAMILIES for prefix in ('backbone.', None)
])
def test_pretrained_init_cfg_loads_once(fam, prefix, tmp_path):
    """An mmvitplug checkpoint (a classifier's or a bare backbone's)."""
    check_pretrained_loads_once(
        lambda **kw: build(fam, variant=fam.full, **kw), prefix,
        tmp_path / 'ckpt.pth')


@every_family
def test_pretrained_inside_list_raises(fam):
    model = build(fam, init=False, init_cfg=[
        dict(type='Pretrained', checkpoint='x.pth')])
    with pytest.raises(ValueError, match=f'{fam.name}.*single dict'):
        model.init_weights()


@for_families(lambda f: f.in_channels)
def test_in_channels(fam):
    model = build(fam, in_channels=1, out_type='featmap',
                  out_indices=all_stages(fam)).eval()
    outs = model(images(fam, 1, channels=1))
    assert [tuple(o.shape) for o in outs] == \
        [(1, *shape) for shape in fam.shapes[fam.size]]
    with pytest.raises(RuntimeError):
        model(images(fam, 1))


def test_every_staged_family_has_a_tiny_arch():
    for fam in FAMILIES[1:]:
        # a family's second spec (a label) has an entry of its own
        assert TINY_ARCHS[fam.id] == fam.arch, fam.id
        assert TINY_KWARGS[fam.id] == fam.kwargs, fam.id


@for_families(lambda f: 'featmap' in f.out_types and not f.columns)
def test_drop_front_continues_the_forward(fam):
    check_drop_front_continues(
        lambda: build(fam, out_type='featmap'), images(fam, 2))
