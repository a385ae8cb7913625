# Copyright (c) mmvitplug contributors.
"""The mmpretrain backbone contract, checked once for every backbone family.

Each family (DeiT, DeiT III, CaiT, ResMLP, PatchConvNet) is described by a
:class:`Family` spec: a tiny arch, its out_types, and so on. Which
top-level parts are the stem (layer depth 0, frozen from
``frozen_stages=0``) and which come after the blocks (depth
``num_layers + 1``, frozen only with every stage) is read from the parts the
backbone declares (:class:`mmvitplug.models.backbones.VisionBackbone`), and
:func:`test_layer_depth_is_where_parameters_enter` checks those
declarations against the order in which a forward pass uses the
parameters. Every check here runs for every family it applies to;
what only one family does (parity with timm / golden data, converters,
class attention, cross-patch resizing, multi class tokens, ...) is tested in
that family's own test file.
"""
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Optional, Tuple

import pytest
import torch
import torch.nn as nn
import torch.utils.checkpoint

from mmvitplug.layers import DropPath, resize_pos_embed
from mmvitplug.models.backbones import (CCT, DHVT, ArchNetViT, CaiT, ConViT,
                                        DeiT, PatchConvNet, ResMLP, XCiT)
from _builders import TINY_ARCHS, TINY_KWARGS
from _contract import (check_drop_front_continues, check_pretrained_loads_once,
                       check_with_cp_identical, entry_depths, perturb,
                       randomize, square_loss, tensors)

NUM_LAYERS = 3  # of every tiny arch


@dataclass(frozen=True)
class Family:
    """How one backbone family meets the contract."""
    cls: type
    arch: dict  # tiny arch dict with NUM_LAYERS blocks
    kwargs: dict  # other constructor arguments of the tiny model
    patch_size: int
    out_types: Tuple[str, ...]  # expected ``cls.out_types``
    # named constructor variants the checks run on; the first is the default
    variants: Dict[str, dict]
    full: str  # the variant that builds every part (tokens, heads)
    cp_variants: Tuple[str, ...]  # checkpointing differs between these
    bad_input: Tuple[Tuple[int, int], str]  # image size, error match
    extra_tokens: int = 0  # tokens before the patches in 'raw' outputs
    cls_of_raw: Optional[Callable] = None  # 'cls_token' read off 'raw'
    pos_embed_extra: Optional[int] = None  # None: no position embedding
    has_img_size: bool = True  # the constructor takes img_size
    fixed_size: bool = False  # inputs must be img_size (cross-patch layers)
    final_norm: bool = True  # final_norm argument, norm on the last output
    chain_out_type: str = 'raw'  # the outputs the blocks take as input
    embed: Optional[Callable] = None  # (model, images) -> blocks[0] input
    # (model, j, output j - 1) -> block j's input (a token joining there)
    block_input: Optional[Callable] = None
    # (model, j, block j's result) -> output j (tokens left out of 'raw')
    block_output: Optional[Callable] = None
    # (model, j, block j's input) -> block j's result
    run_block: Callable = lambda model, j, x: model.blocks[j](x)
    # model -> keys of a 'raw' model's state that its out_type builds not
    unbuilt_keys: Callable = lambda model: set()
    drop_path: str = 'uniform'  # or 'linear' (0 .. rate over the blocks)
    class_attention_calls: int = 0  # checkpointed calls after the blocks
    fused_attn_variants: Tuple[str, ...] = ()
    fused_attn_rtol: float = 0.  # relative tolerance of that comparison
    drop_path_variant: Optional[str] = None  # default: ``full``
    # (model, images) -> None, before checking where parameters enter: sets
    # state that training forwards set (Arch-Net's LSQ steps)
    warm_up: Optional[Callable] = None
    frozen_kwargs: dict = field(default_factory=dict)
    grad_setup: Optional[Callable] = None  # keeps every parameter alive
    label: Optional[str] = None  # test id when a class has several specs

    @property
    def name(self):
        return self.cls.__name__

    @property
    def id(self):
        return self.label or self.name

    @property
    def embed_dims(self):
        return self.arch['embed_dims']


def _keep_se_alive(model):
    """Positive SE biases: the 4-wide ReLUs of the tiny arch stay active."""
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv_pos[4].conv_reduce.bias.fill_(1.)


DEIT = Family(
    cls=DeiT,
    arch=TINY_ARCHS['DeiT'],
    kwargs=TINY_KWARGS['DeiT'],
    patch_size=8,
    out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
    variants={
        'cls_token': {},
        'distilled': dict(distilled=True),
        'featmap': dict(out_type='featmap'),
    },
    full='distilled',
    cp_variants=('featmap', ),
    bad_input=((32, 36), '32x36.*patch size 8x8'),
    extra_tokens=1,
    cls_of_raw=lambda raw: raw[:, 0],
    pos_embed_extra=1,
    drop_path='linear',
    fused_attn_variants=('cls_token', ),
    frozen_kwargs=dict(drop_rate=0.5))
# the DeiT III ViT: LayerScale, uniform drop path, patch-only position
# embedding (added before the class token is prepended)
DEIT3 = replace(
    DEIT,
    label='DeiT3',
    arch=dict(DEIT.arch, layer_scale_init_value=0.5,
              drop_path_mode='uniform',
              pos_embed_extra_tokens=False),
    pos_embed_extra=0,
    drop_path='uniform')

FAMILIES = [
    DEIT,
    DEIT3,
    # Arch-Net's quantised DeiT: 2w4a (LSQ steps set from the data in eval
    # before training: every check runs on it) and full precision (the
    # fused / explicit attention comparison: a 4-bit output quantiser turns
    # float noise into whole steps)
    replace(
        DEIT,
        cls=ArchNetViT,
        arch=TINY_ARCHS['ArchNetViT'],
        kwargs=TINY_KWARGS['ArchNetViT'],
        variants={
            '2w4a': {},
            'fp': dict(w_bits=None, a_bits=None),
            'featmap': dict(out_type='featmap'),
        },
        full='2w4a',
        cp_variants=('2w4a', 'featmap'),
        fused_attn_variants=('fp', ),
        # BatchNorms with randomized statistics: outputs of ~1e4
        fused_attn_rtol=1e-5,
        # the class token of the untrained 2w4a model quantises to 0
        drop_path_variant='featmap',
        # the LSQ steps are set by the first training forward (before it,
        # eval quantises with steps computed from its input, not the
        # parameters)
        warm_up=lambda model, x: model.train()(x)),
    Family(
        cls=CaiT,
        arch=TINY_ARCHS['CaiT'],
        kwargs=TINY_KWARGS['CaiT'],
        patch_size=8,
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'cls_token': {},
            'featmap': dict(out_type='featmap'),
        },
        full='cls_token',
        cp_variants=('cls_token', 'featmap'),  # class attention or not
        bad_input=((32, 36), '32x36.*patch size 8x8'),
        pos_embed_extra=0,
        class_attention_calls=2,  # num_ca_layers
        fused_attn_variants=('cls_token', 'featmap'),
        frozen_kwargs=dict(drop_rate=0.5)),
    Family(
        cls=ResMLP,
        arch=TINY_ARCHS['ResMLP'],
        kwargs=TINY_KWARGS['ResMLP'],
        patch_size=8,
        out_types=('avg_featmap', 'featmap', 'raw'),
        variants={
            'avg_featmap': {},
            'featmap': dict(out_type='featmap'),
        },
        full='avg_featmap',
        cp_variants=('featmap', ),
        bad_input=((32, 36), '32x36 input.*img_size 32x32'),
        fixed_size=True,
        embed=lambda model, x: model.patch_embed(x)[0],
        frozen_kwargs=dict(drop_rate=0.5)),
    Family(
        cls=PatchConvNet,
        arch=TINY_ARCHS['PatchConvNet'],
        kwargs=TINY_KWARGS['PatchConvNet'],
        patch_size=4,
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'cls_token': {},
            'featmap': dict(out_type='featmap'),
            'multi_token': dict(num_cls_tokens=2),
        },
        full='cls_token',
        cp_variants=('cls_token', ),  # the aggregation is not checkpointed
        bad_input=((16, 18), '16x18.*patch size 4'),
        has_img_size=False,
        final_norm=False,
        chain_out_type='featmap',
        embed=lambda model, x: model.patch_embed(x),
        fused_attn_variants=('cls_token', ),
        # a BatchNorm trunk: frozen stages must keep their statistics
        frozen_kwargs=dict(norm_cfg=dict(type='BN'), drop_rate=0.5),
        grad_setup=_keep_se_alive),
    # 2 GPSA blocks, then the class token joins before the self-attention
    # block 2 ('raw' outputs are the patch tokens). No local init: it sets
    # the same weights (identity v) whatever the seed.
    Family(
        cls=ConViT,
        arch=TINY_ARCHS['ConViT'],
        kwargs=dict(TINY_KWARGS['ConViT'], use_local_init=False),
        patch_size=8,
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'cls_token': {},
            'featmap': dict(out_type='featmap'),
        },
        full='cls_token',
        cp_variants=('cls_token', 'featmap'),
        bad_input=((32, 36), '32x36.*patch size 8x8'),
        pos_embed_extra=0,
        embed=lambda model, x: model.embed(x)[0],
        block_input=lambda model, j, x: model._join(x)
        if j == model.local_up_to_layer else x,
        block_output=lambda model, j, y: y[:, 1:]
        if j >= model.local_up_to_layer else y,
        drop_path='linear',
        fused_attn_variants=('cls_token', 'featmap'),
        frozen_kwargs=dict(drop_rate=0.5)),
    # any image size: the tokenizer's grid sizes the (resized) position
    # embedding, so img_size has no divisibility constraint
    Family(
        cls=CCT,
        arch=TINY_ARCHS['CCT'],
        kwargs=TINY_KWARGS['CCT'],
        patch_size=4,
        out_types=('seq_pool', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'seq_pool': {},
            'featmap': dict(out_type='featmap'),
            'sine': dict(pos_embed='sine'),
        },
        full='seq_pool',
        cp_variants=('seq_pool', ),  # pooling is not checkpointed
        bad_input=((0, 16), '0x16 input is too small for the tokenizer'),
        pos_embed_extra=0,
        has_img_size=False,
        embed=lambda model, x: model.embed(x)[0],
        drop_path='linear',
        fused_attn_variants=('seq_pool', 'featmap'),
        frozen_kwargs=dict(drop_rate=0.5)),
    # a BatchNorm conv stem and BatchNorms in every layer (LPI); no
    # learned position embedding (Fourier features of each grid); the
    # layers also take NCHW maps; the class token joins after the trunk
    Family(
        cls=XCiT,
        arch=TINY_ARCHS['XCiT'],
        kwargs=TINY_KWARGS['XCiT'],
        patch_size=4,
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'cls_token': {},
            'featmap': dict(out_type='featmap'),
            'tokens_norm': dict(arch=dict(TINY_ARCHS['XCiT'],
                                          tokens_norm=True)),
            'separate_nonlinear': dict(qkv_embed='separate_nonlinear'),
            'shared_nonlinear': dict(qkv_embed='shared_nonlinear'),
            'shared_coded': dict(qkv_embed='shared_coded'),
        },
        full='cls_token',
        cp_variants=('cls_token', 'featmap'),
        bad_input=((16, 18), '16x18 is not divisible by the patch size 4'),
        has_img_size=False,
        final_norm=False,  # dense outputs are not normalised
        chain_out_type='featmap',
        embed=lambda model, x: (lambda t, hw: t.transpose(1, 2).reshape(
            t.shape[0], -1, *hw))(*model.embed(x)),
        class_attention_calls=2,
        fused_attn_variants=('cls_token', 'featmap', 'shared_coded'),
        frozen_kwargs=dict(drop_rate=0.5)),
    # no position embedding; the class token is updated by the head tokens
    # and the DAFF excitation; 'raw' outputs keep the class token
    Family(
        cls=DHVT,
        arch=TINY_ARCHS['DHVT'],
        kwargs=TINY_KWARGS['DHVT'],
        patch_size=4,
        out_types=('cls_token', 'featmap', 'avg_featmap', 'raw'),
        variants={
            'cls_token': {},
            'featmap': dict(out_type='featmap'),
        },
        full='cls_token',
        cp_variants=('cls_token', 'featmap'),
        bad_input=((2, 16), 'DHVT needs images of at least 4x4'),
        extra_tokens=1,
        cls_of_raw=lambda raw: raw[:, 0],
        has_img_size=False,
        embed=lambda model, x: model.embed(x)[0],
        # the blocks take the token grid: 4 x 4 in these checks
        run_block=lambda model, j, x: model.blocks[j](x, (4, 4)),
        # dense outputs: the last output block builds no class-token
        # excitation
        unbuilt_keys=lambda model: set() if model._unexcited is None else {
            f'blocks.{model._unexcited % NUM_LAYERS}.mlp.{name}.{p}'
            for name in ('compress', 'excitation')
            for p in ('weight', 'bias')
        },
        drop_path='linear',
        fused_attn_variants=('cls_token', 'featmap'),
        frozen_kwargs=dict(drop_rate=0.5)),
]
FAMILY_IDS = [f.id for f in FAMILIES]
VARIANTS = [
    pytest.param(fam, variant, id=f'{fam.id}-{variant}')
    for fam in FAMILIES for variant in fam.variants
]
CP_VARIANTS = [
    pytest.param(fam, variant, id=f'{fam.id}-{variant}')
    for fam in FAMILIES for variant in fam.cp_variants
]


def for_families(*filters):
    """Parametrize ``fam`` over the families that pass every filter."""
    fams = [f for f in FAMILIES if all(check(f) for check in filters)]
    return pytest.mark.parametrize('fam', fams, ids=[f.id for f in fams])


every_family = for_families()


# ------------------------------------------------------------------ helpers
def build(fam, *, variant=None, grid=None, seed=0, init=True, **kwargs):
    """The family's tiny model; ``grid`` sets img_size of fixed-size ones."""
    cfg = dict(fam.kwargs, arch=fam.arch)
    if fam.fixed_size and grid is not None:
        cfg['img_size'] = images_size(fam, grid)
    cfg.update(fam.variants[variant] if variant else {})
    cfg.update(kwargs)
    torch.manual_seed(seed)
    model = fam.cls(**cfg)
    if init:
        model.init_weights()
    return model


def images_size(fam, grid):
    return grid[0] * fam.patch_size, grid[1] * fam.patch_size


def images(fam, batch, grid=(4, 4), channels=3):
    return torch.randn(batch, channels, *images_size(fam, grid))


def depth_of(model, name):
    """Layer depth of a parameter / module name of a flat backbone, from
    the parts its class declares."""
    parts = type(model).parts
    head, _, rest = name.partition('.')
    if head in parts.stem:
        return 0
    if head == parts.stages:
        return int(rest.split('.')[0]) + 1
    if head in parts.top:
        return NUM_LAYERS + 1
    joins = dict(parts.joins)
    if head in joins:  # joins before trunk layer j: depth j + 1
        return getattr(model, joins[head]) + 1
    raise AssertionError(f'{name!r} is in no declared part of {parts}')


def is_frozen(model, name, frozen_stages):
    """Stem from 0, block i from i + 1, the top only with every stage."""
    return min(depth_of(model, name), NUM_LAYERS) <= frozen_stages


# ------------------------------------------------------------- arch, errors
@every_family
def test_arch_dict_and_zoo_name(fam):
    model = build(fam)
    assert model.arch_settings == fam.arch
    assert model.arch_settings is not fam.arch  # a copy
    assert (model.embed_dims, model.num_layers, len(model.blocks)) == \
        (fam.embed_dims, NUM_LAYERS, NUM_LAYERS)
    zoo = fam.cls.arch_zoo
    name = min(zoo, key=lambda n: (zoo[n]['num_layers'] *
                                   zoo[n]['embed_dims'], n))
    with torch.device('meta'):
        model = fam.cls(name)
    assert model.arch_settings == zoo[name]
    assert model.arch_settings is not zoo[name]  # the zoo is not shared
    assert (model.embed_dims, model.num_layers, len(model.blocks)) == \
        (zoo[name]['embed_dims'], zoo[name]['num_layers'],
         zoo[name]['num_layers'])


def _bad_arguments(fam):
    zoo = sorted(fam.cls.arch_zoo)
    other = next(n for f in FAMILIES if f.cls is not fam.cls
                 for n in sorted(f.cls.arch_zoo)
                 if n not in fam.cls.arch_zoo)  # another class's arch
    required = fam.cls.arch_keys[-1]
    cases = {
        'unknown-arch': (dict(arch='no-such-arch'),
                         "Unknown arch 'no-such-arch'; choose from " +
                         re.escape(str(zoo))),
        'other-family-arch': (dict(arch=other), f"Unknown arch '{other}'"),
        'arch-type': (dict(arch=3), f'arch must be a name of {fam.name}'
                      r'\.arch_zoo or a dict, got int'),
        'arch-missing-key': (dict(arch={
            k: v
            for k, v in fam.arch.items() if k != required
        }), rf"missing \['{required}'\]"),
        'arch-unknown-key': (dict(arch=dict(fam.arch, depth=3)),
                             r"unknown \['depth'\]"),
        'out-index-too-big': (dict(out_type='raw', out_indices=3),
                              r'entry 3 is out of range.*-3\.\.2'),
        'out-index-too-small': (dict(out_type='raw', out_indices=(0, -4)),
                                r'entry -4 is out of range.*-3\.\.2'),
        'out-type': (dict(out_type='pooled'),
                     "Unknown out_type 'pooled'.*" +
                     re.escape(str(list(fam.out_types)))),
        'frozen-stages-too-big': (dict(frozen_stages=4),
                                  r'\[-1, 3\], got 4'),
        'frozen-stages-too-small': (dict(frozen_stages=-2),
                                    r'\[-1, 3\], got -2'),
    }
    if fam.has_img_size:
        cases['img-size'] = (dict(img_size=36),
                             'not divisible by the patch size')
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


@every_family
def test_bad_input_size(fam):
    size, match = fam.bad_input
    model = build(fam)
    with pytest.raises(ValueError, match=match):
        model(torch.randn(1, 3, *size))


# -------------------------------------------------------------- out_type
@every_family
@pytest.mark.parametrize('out_indices', [-1, 0, (0, -1), (-3, 1, 2)])
def test_out_types_agree_with_raw(fam, out_indices):
    """Every out_type is the 'raw' tokens of the same blocks, reformatted.

    The 4 x 6 patch grid is not the square one of ``img_size`` (resized
    position embeddings) and tells rows from columns.
    """
    grid, C = (4, 6), fam.embed_dims
    x = images(fam, 2, grid)
    raw_model = build(fam, grid=grid, out_indices=out_indices,
                      out_type='raw').eval()
    raws = raw_model(x)
    n = 1 if isinstance(out_indices, int) else len(
        {i % NUM_LAYERS for i in out_indices})
    assert len(raws) == n
    for raw in raws:
        assert raw.shape == (2, fam.extra_tokens + 24, C)
    out_types = [t for t in fam.out_types if t in ('featmap', 'avg_featmap')]
    if fam.cls_of_raw is not None:
        out_types.append('cls_token')
    for out_type in out_types:
        model = build(fam, grid=grid, out_indices=out_indices,
                      out_type=out_type).eval()
        missing, unexpected = model.load_state_dict(raw_model.state_dict(),
                                                    strict=False)
        assert not missing
        assert set(unexpected) == fam.unbuilt_keys(model)
        outs = model(x)
        assert len(outs) == n
        for raw, out in zip(raws, outs):
            patches = raw[:, fam.extra_tokens:]
            if out_type == 'cls_token':
                torch.testing.assert_close(out, fam.cls_of_raw(raw))
            elif out_type == 'avg_featmap':
                torch.testing.assert_close(out, patches.mean(1))
            else:
                # contiguous NCHW: mmcv's RoIAlign misreads channels-last
                assert out.shape == (2, C, 4, 6) and out.is_contiguous()
                # row-major patch order: patch (i, j) is token 6 * i + j
                torch.testing.assert_close(out[:, :, 3, 2],
                                           patches[:, 6 * 3 + 2])
                torch.testing.assert_close(
                    out.flatten(2).transpose(1, 2), patches)


@every_family
def test_out_indices_are_block_outputs_and_final_norm(fam):
    """Output i is block i applied to output i - 1; the norm ends the last.
    """
    model = perturb(build(fam, out_indices=(0, 1, 2),
                          out_type=fam.chain_out_type)).eval()
    into = fam.block_input or (lambda model, j, x: x)
    out = fam.block_output or (lambda model, j, y: y)
    x = images(fam, 2)
    run = fam.run_block
    o0, o1, o2 = model(x)
    if fam.embed is not None:
        torch.testing.assert_close(
            o0, out(model, 0, run(model, 0, into(model, 0,
                                                 fam.embed(model, x)))))
    torch.testing.assert_close(o1, out(model, 1, run(model, 1,
                                                     into(model, 1, o0))))
    last = run(model, 2, into(model, 2, o1))
    if not fam.final_norm:
        torch.testing.assert_close(o2, out(model, 2, last))
        return
    torch.testing.assert_close(o2, out(model, 2, model.norm(last)))
    assert not torch.allclose(o2, out(model, 2, last))
    no_norm = build(fam, out_type=fam.chain_out_type, final_norm=False)
    assert isinstance(no_norm.norm, nn.Identity)
    no_norm.load_state_dict(model.state_dict(), strict=False)
    torch.testing.assert_close(no_norm.eval()(x)[0], out(model, 2, last))


@for_families(lambda f: f.pos_embed_extra is not None)
def test_pos_embed_interpolated_to_input_grid(fam):
    small = build(fam, out_type='raw').eval()
    x = images(fam, 1, grid=(4, 6))
    big = build(fam, out_type='raw', img_size=images_size(fam, (4, 6)))
    state = small.state_dict()
    state['pos_embed'] = resize_pos_embed(
        small.pos_embed, (4, 4), (4, 6), num_extra_tokens=fam.pos_embed_extra)
    big.load_state_dict(state)
    torch.testing.assert_close(small(x)[0], big.eval()(x)[0])
    small.interpolate_mode = 'nearest'
    assert not torch.allclose(small(x)[0], big(x)[0])


@for_families(lambda f: f.fused_attn_variants)
def test_fused_attn_switch(fam):
    for variant in fam.fused_attn_variants:
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
            atol=1e-5, rtol=fam.fused_attn_rtol, msg=variant)


# ------------------------------------------------------------- training
@pytest.mark.parametrize('fam, variant', VARIANTS)
def test_all_parameters_receive_gradients(fam, variant):
    model = perturb(build(fam, variant=variant, drop_rate=0.1,
                          drop_path_rate=0.1))
    if fam.grad_setup is not None:
        fam.grad_setup(model)
    square_loss(model(images(fam, 4))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@every_family
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 3])
def test_frozen_stages(fam, frozen_stages):
    """Frozen parts: no gradient, eval mode in train(), unchanged by steps.
    """
    model = build(fam, variant=fam.full, frozen_stages=frozen_stages,
                  **fam.frozen_kwargs)
    frozen = {
        n: is_frozen(model, n, frozen_stages)
        for n, _ in model.named_parameters()
    }
    for name, p in model.named_parameters():
        assert p.requires_grad != frozen[name], name

    model.train()
    for name, m in model.named_modules():
        if name and not isinstance(m, nn.ModuleList):
            assert m.training != is_frozen(model, name, frozen_stages), name

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    head = nn.Linear(fam.embed_dims, 3)
    # all parameters go to the optimizer, as in an mmengine runner
    opt = torch.optim.SGD([*model.parameters(), *head.parameters()],
                          lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        outs = model(images(fam, 2))
        sum(head(t).square().sum() for t in tensors(outs)).backward()
        opt.step()
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == frozen[name], name
    # frozen BatchNorms keep their running statistics, the others update
    for name, b in model.named_buffers():
        assert torch.equal(b, buffers[name]) == \
            is_frozen(model, name, frozen_stages), name


@pytest.mark.parametrize('fam, variant', CP_VARIANTS)
def test_with_cp_identical(fam, variant, monkeypatch):
    """Checkpointed blocks: same outputs and gradients, only in training."""
    kwargs = dict(drop_path_rate=0.3, drop_rate=0.2)
    check_with_cp_identical(
        lambda **kw: build(fam, variant=variant, **kwargs, **kw),
        images(fam, 4),
        lambda model: NUM_LAYERS + (fam.class_attention_calls
                                    if model.out_type == 'cls_token' else 0),
        monkeypatch)


@every_family
def test_drop_path_rate(fam):
    """Stochastic depth in the blocks only, with the family's schedule."""
    num_layers = 5
    model = build(fam, variant=fam.drop_path_variant or fam.full,
                  drop_path_rate=0.2,
                  arch=dict(fam.arch, num_layers=num_layers))
    per_block = {i: 0 for i in range(num_layers)}
    for name, m in model.named_modules():
        if not re.fullmatch(r'.*\.drop_path\d?', name):
            continue
        found = re.fullmatch(r'blocks\.(\d+)\..*', name)
        if found is None:  # e.g. class-attention blocks: none
            assert isinstance(m, nn.Identity), name
            continue
        i = int(found.group(1))
        per_block[i] += 1
        rate = 0.2 * i / (num_layers - 1) if fam.drop_path == 'linear' \
            else 0.2
        if rate == 0:
            assert isinstance(m, nn.Identity), name
        else:
            assert isinstance(m, DropPath), name
            assert m.drop_prob == pytest.approx(rate), name
    assert min(per_block.values()) >= 1, per_block
    x = images(fam, 8)
    model.train()
    assert not torch.allclose(tensors(model(x))[0], tensors(model(x))[0])
    model.eval()
    torch.testing.assert_close(tensors(model(x))[0], tensors(model(x))[0])
    assert all(
        isinstance(m, nn.Identity)
        for name, m in build(fam).named_modules()
        if re.fullmatch(r'.*\.drop_path\d?', name))


# ---------------------------------------------------- lr decay, weights
@every_family
def test_get_layer_depth(fam):
    model = build(fam, variant=fam.full)
    depth = model.get_layer_depth
    top = (NUM_LAYERS + 1, NUM_LAYERS + 2)
    for name, _ in model.named_parameters():
        expected = (depth_of(model, name), NUM_LAYERS + 2)
        assert depth(name) == expected, name
        assert depth('backbone.' + name, prefix='backbone.') == expected, name
    assert depth('head.fc.weight', prefix='backbone.') == top
    assert depth('neck.blocks.0.weight', prefix='backbone.') == top
    with pytest.raises(KeyError, match='not a parameter of'):
        depth('backbone.blocks.9.weight', prefix='backbone.')


@pytest.mark.parametrize('fam, variant', VARIANTS)
def test_layer_depth_is_where_parameters_enter(fam, variant):
    """The declared depth of every parameter is where the forward pass
    first uses it: before block 0 (0), in block j (j + 1), or after the
    last block (num_layers + 1), e.g. CaiT's late class token."""
    model = build(fam, variant=variant)
    if fam.warm_up is not None:
        fam.warm_up(model, images(fam, 2))
    model.eval()
    entered = entry_depths(model, model.blocks,
                           lambda: model(images(fam, 2)))
    for name, _ in model.named_parameters():
        assert model.get_layer_depth(name)[0] == entered[name], name


@every_family
def test_other_init_cfg_applies_on_top(fam):
    model = build(fam, variant=fam.full,
                  init_cfg=dict(type='Constant', layer='Linear', val=0.5))
    # subclasses too (ArchNetViT's LSQLinear): mmengine matches the layer
    # names of the base classes
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears
    assert all(torch.all(m.weight == 0.5) for m in linears)


@pytest.mark.parametrize('fam, prefix', [
    pytest.param(f, prefix, id=f'{f.id}-{prefix or "bare"}')
    for f in FAMILIES for prefix in ('backbone.', None)
])
def test_pretrained_init_cfg_loads_once(fam, prefix, tmp_path):
    """An mmvitplug checkpoint (a classifier's or a bare backbone's).

    A bare backbone state dict has top-level ``blocks.*`` keys, like the
    official layouts, and must still load unconverted.
    """
    check_pretrained_loads_once(
        lambda **kw: build(fam, variant=fam.full, **kw), prefix,
        tmp_path / 'ckpt.pth')


@every_family
def test_pretrained_inside_list_raises(fam):
    model = build(fam, init=False, init_cfg=[
        dict(type='Pretrained', checkpoint='x.pth')])
    with pytest.raises(ValueError, match=f'{fam.name}.*single dict'):
        model.init_weights()


@every_family
def test_in_channels(fam):
    model = build(fam, in_channels=1).eval()
    out = tensors(model(images(fam, 1, channels=1)))[0]
    assert out.shape == (1, fam.embed_dims)
    with pytest.raises(RuntimeError):
        model(images(fam, 1))


@for_families(lambda f: 'featmap' in f.out_types)
def test_drop_front_continues_the_forward(fam):
    check_drop_front_continues(
        lambda: build(fam, out_type='featmap'), images(fam, 2))
