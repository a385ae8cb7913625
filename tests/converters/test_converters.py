# Copyright (c) mmvitplug contributors.
"""The converter registry, layout recognition, DeiT's converter, the CLI.

Every registered converter must have official samples in
:data:`OFFICIAL_SAMPLES`; the recognition and ``module.`` tests are
parametrised over the registry, so a new converter is covered (and fails
here until it brings its samples).
"""
import contextlib
import functools
import re
from pathlib import Path

import pytest
import torch

from mmvitplug.converters import (AnyLayout, KeyLayout, convert_cait,
                                  convert_deit, convert_patchconvnet,
                                  convert_resmlp, converter_for_type,
                                  converter_of_function, get_converter,
                                  prepare_state_dict, recognising_converters,
                                  register_converter, registered_converters,
                                  strip_ddp_prefix, unregister_converter)
from _builders import TEST_DATA, load_tool

timm = pytest.importorskip('timm')

GOLDEN = Path(TEST_DATA) / 'patchconvnet_golden.pt'


def official(name):
    torch.manual_seed(0)
    with torch.device('meta'):
        model = timm.create_model(name, pretrained=False)
    return {k: torch.randn(v.shape) for k, v in model.state_dict().items()}


def to_official(state_dict):
    """Inverse mapping, written independently of the converter."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            out[key[len('backbone.'):]] = value
        elif key.startswith('head.fc.'):
            out['head.' + key[len('head.fc.'):]] = value
        else:  # head.head.* / head.head_dist.*
            out[key[len('head.'):]] = value
    return out


def deit3_models_v2(state_dict):
    """timm DeiT III -> official ``models_v2.py`` LayerScale names."""
    return {
        re.sub(r'\.ls([12])\.gamma$', r'.gamma_\1', k): v
        for k, v in state_dict.items()
    }


def resmlp_official(state_dict):
    """timm ResMLP -> official ``resmlp_models.py`` names (test_resmlp's)."""
    out = {}
    for key, value in state_dict.items():
        key = key.replace('stem.', 'patch_embed.')
        key = key.replace('linear_tokens.', 'attn.')
        key = key.replace('mlp_channels.', 'mlp.')
        key = key.replace('.ls1', '.gamma_1').replace('.ls2', '.gamma_2')
        if key.endswith(('.alpha', '.beta')):
            value = value.reshape(-1)
        out[key] = value
    return out


def golden(name):
    return torch.load(GOLDEN, weights_only=True)[name]['state_dict']


#: Official (and timm) state dicts per registered converter.
def archnet_golden_student():
    """The official Arch-Net ResNet-18 student's keys (tests/methods/
    test_archnet.py: its golden outputs), zero tensors."""
    keys = torch.load(Path(TEST_DATA) / 'archnet_golden.pt',
                      weights_only=True)['student_keys']
    return {k: torch.zeros(shape) for k, shape in keys}


OFFICIAL_SAMPLES = {
    'ArchNetResNet': {'golden': archnet_golden_student},
    'LeViT': {  # the official code's state dict (test_levit.py) and timm's
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'levit_golden.pt',
            weights_only=True)['state_dict'],
        'levit_128s_timm': lambda: official('levit_128s'),
    },
    'CCT': {  # the official code's state dicts (tests/.../test_cct.py)
        f'golden_{case}': functools.partial(
            lambda case: torch.load(Path(TEST_DATA) / 'cct_golden.pt',
                                    weights_only=True)[case]['state_dict'],
            case)
        for case in ('learnable', 'sine')
    },
    'DeiT': {
        'deit_tiny': lambda: official('deit_tiny_patch16_224'),
        'deit_tiny_distilled':
        lambda: official('deit_tiny_distilled_patch16_224'),
        'deit3_small_timm': lambda: official('deit3_small_patch16_224'),
        'deit3_small_models_v2':
        lambda: deit3_models_v2(official('deit3_small_patch16_224')),
    },
    'CaiT': {
        'cait_xxs24': lambda: official('cait_xxs24_224'),
    },
    'ConViT': {  # official keys = timm's
        'convit_tiny': lambda: official('convit_tiny'),
    },
    'ResMLP': {
        'resmlp_12_timm': lambda: official('resmlp_12_224'),
        'resmlp_12_official':
        lambda: resmlp_official(official('resmlp_12_224')),
    },
    'PatchConvNet': {
        'golden_single': lambda: golden('single'),
        'golden_multi': lambda: golden('multi'),
    },
    'PiT': {  # timm; official: pools.{s} for timm's transformers.{s+1}.pool
        'pit_ti_timm': lambda: official('pit_ti_224'),
        'pit_ti_distilled_official': lambda: {
            re.sub(r'^transformers\.(\d+)\.pool\.',
                   lambda m: f'pools.{int(m[1]) - 1}.', k): v
            for k, v in official('pit_ti_distilled_224').items()},
    },
    'CMT': {  # the official code's state dict (tests/models/.../test_cmt.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'cmt_golden.pt',
            weights_only=True)['state_dict'],
    },
    'HATNet': {  # the official code's state dict (.../test_hatnet.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'hatnet_golden.pt',
            weights_only=True)['state_dict'],
    },
    'DHVT': {  # the official code's state dicts (.../test_dhvt.py)
        name: functools.partial(lambda name: torch.load(
            Path(TEST_DATA) / 'dhvt_golden.pt',
            weights_only=True)[name]['state_dict'], name)
        for name in ('p4', 'p16')
    },
    'InternImage': {  # the official code's state dicts (.../test_internimage)
        name: functools.partial(lambda name: torch.load(
            Path(TEST_DATA) / 'internimage_golden.pt',
            weights_only=True)['models'][name]['state_dict'], name)
        for name in ('t_style', 's_style')
    },
    'RevCol': {  # the official code's state dict (.../test_revcol.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'revcol_golden.pt',
            weights_only=True)['state_dict'],
    },
    'SReT': {  # the official code's state dict (.../test_sret.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'sret_golden.pt',
            weights_only=True)['state_dict'],
    },
    'LIT': {  # the official code's state dicts (.../test_lit.py)
        'golden_ti': lambda: torch.load(
            Path(TEST_DATA) / 'lit_golden.pt',
            weights_only=True)['ti']['state_dict'],
        'golden_s': lambda: torch.load(
            Path(TEST_DATA) / 'lit_golden.pt',
            weights_only=True)['s']['state_dict'],
    },
    'LITv2': {  # the official code's state dict (.../test_litv2.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'litv2_golden.pt',
            weights_only=True)['state_dict'],
    },
    'CvT': {  # the official code's state dict (tests/models/.../test_cvt.py)
        'golden': lambda: torch.load(
            Path(TEST_DATA) / 'cvt_golden.pt',
            weights_only=True)['state_dict'],
    },
    'XCiT': {  # timm; official: pos_embeder, fused class-attention qkv
        'xcit_nano_12_p16_timm': lambda: official('xcit_nano_12_p16_224'),
        'xcit_nano_12_p8_official': lambda: (lambda sd: {
            **{re.sub(r'^pos_embed\.', 'pos_embeder.', k): v
               for k, v in sd.items()
               if not re.match(r'cls_attn_blocks\.\d+\.attn\.[qkv]\.', k)},
            **{k.replace('.q.', '.qkv.'): torch.cat(
                [sd[k.replace('.q.', f'.{n}.')] for n in 'qkv'])
               for k in sd
               if re.match(r'cls_attn_blocks\.\d+\.attn\.q\.', k)},
        })(official('xcit_nano_12_p8_224')),
    },
    'RegNetY': {  # timm (tests/models/backbones/test_regnety.py: vissl)
        'regnety_002_timm': lambda: official('regnety_002'),
    },
    'GGhostRegNet': {  # the official code's state dicts (.../test_g_ghost_*)
        name: functools.partial(lambda name: torch.load(
            Path(TEST_DATA) / 'g_ghost_regnet_golden.pt',
            weights_only=True)['models'][name]['state_dict'], name)
        for name in ('ghost_all', 'ghost_mid')
    },
    'GhostNet': {  # timm = official names (.../test_ghostnet.py)
        'ghostnet_050_timm': lambda: official('ghostnet_050'),
        'ghostnetv2_100_timm': lambda: official('ghostnetv2_100'),
    },
}
SAMPLES = [(owner, label) for owner, samples in OFFICIAL_SAMPLES.items()
           for label in samples]


@functools.lru_cache(maxsize=None)
def sample(owner, label):
    return OFFICIAL_SAMPLES[owner][label]()


@contextlib.contextmanager
def registered(name, recognise, fn=None):
    """Register ``fn`` (a pass-through by default) for the test only."""

    def passthrough(state_dict):
        return dict(state_dict)

    function = register_converter(name, recognise)(fn or passthrough)
    try:
        yield function
    finally:
        unregister_converter(name)


# ------------------------------------------------------------- registry
def test_registry_names_and_lookup():
    # sorted; each name with its official samples (test below)
    assert registered_converters() == sorted(OFFICIAL_SAMPLES)
    for name, function in [('DeiT', convert_deit), ('CaiT', convert_cait),
                           ('ResMLP', convert_resmlp),
                           ('PatchConvNet', convert_patchconvnet)]:
        assert get_converter(name).function is function
    for name in registered_converters():
        converter = get_converter(name)
        assert converter.name == name
        assert converter_of_function(converter.function) is converter
        assert converter_of_function(converter.fn) is converter
    # letter case and the registry scope do not matter
    for spelling in ('deit', 'DEIT', 'mmvitplug.DeiT', 'mmvitplug.deit'):
        assert get_converter(spelling) is get_converter('DeiT')
    assert converter_of_function(lambda sd: sd) is None


def test_every_registered_converter_has_official_samples():
    missing = set(registered_converters()) - set(OFFICIAL_SAMPLES)
    assert not missing, (
        f'add official (and timm) samples of {sorted(missing)} to '
        'OFFICIAL_SAMPLES and to test_pretrained.LOAD_SAMPLES')


def test_unknown_name_lists_registered():
    with pytest.raises(KeyError) as err:
        get_converter('ViT')
    message = str(err.value)
    assert "No converter is registered for 'ViT'" in message
    assert str(registered_converters()) in message
    with pytest.raises(KeyError, match='registered:'):
        unregister_converter('ViT')
    with pytest.raises(KeyError, match='registered:'):
        get_converter(None)


def test_duplicate_registration_is_an_error():
    before = get_converter('DeiT')
    for name in ('DeiT', 'deit'):
        with pytest.raises(ValueError, match="already registered for 'DeiT'"
                           r'.*convert_deit'):
            register_converter(name, r'x')(lambda sd: sd)
    assert get_converter('DeiT') is before
    with registered('TinyNet', r'stem\.'):
        with pytest.raises(ValueError, match="already registered for "
                           "'TinyNet'"):
            register_converter('TinyNet', r'stem\.')(lambda sd: sd)
    assert 'TinyNet' not in registered_converters()


def test_register_and_unregister():
    with registered('TinyNet', [r'stem\.', r'stages\.']) as function:
        assert 'TinyNet' in registered_converters()
        converter = get_converter('tinynet')
        assert converter.function is function
        assert isinstance(converter.recognise, KeyLayout)
        assert converter.recognise.required == (r'stem\.', r'stages\.')
        # the public function prepares its argument
        assert function({'model': {'module.stem.w': 1}}) == {'stem.w': 1}
        assert converter({'state_dict': {'stem.w': 2}}) == {'stem.w': 2}
        assert converter.fn({'module.stem.w': 1}) == {'module.stem.w': 1}
    assert 'TinyNet' not in registered_converters()
    with pytest.raises(KeyError, match='TinyNet'):
        get_converter('TinyNet')


@pytest.mark.parametrize('name, recognise, error, match', [
    ('vit-b', r'x', ValueError, 'backbone type name'),
    ('', r'x', ValueError, 'backbone type name'),
    (None, r'x', ValueError, 'backbone type name'),
    ('Net', 3, TypeError, 'predicate over the key set'),
    ('Net', [], TypeError, 'predicate over the key set'),
    ('Net', [r'x', 3], TypeError, 'predicate over the key set'),
])
def test_register_bad_arguments(name, recognise, error, match):
    with pytest.raises(error, match=match):
        register_converter(name, recognise)
    assert registered_converters() == sorted(OFFICIAL_SAMPLES)


def test_converter_for_type_walks_the_mro():

    class DeiT:  # registered name, any class
        pass

    class MyDeiT(DeiT):
        pass

    class Other:
        pass

    assert converter_for_type(DeiT) is get_converter('DeiT')
    assert converter_for_type(MyDeiT) is get_converter('DeiT')
    assert converter_for_type(Other) is None
    with registered('MyDeiT', r'x'):
        assert converter_for_type(MyDeiT).name == 'MyDeiT'  # nearest wins
    # exact names only: a case variant of a registered name is not it

    class Deit:
        pass

    assert converter_for_type(Deit) is None


# ----------------------------------------------------------- key layouts
def test_key_layout():
    layout = KeyLayout(r'stem\.', r'stages\.\d+\.', forbidden=[r'cls_token'])
    assert layout(['stem.0.weight', 'stages.1.blocks.0.conv_dw.weight'])
    assert not layout(['stem.0.weight'])  # every required pattern
    assert not layout(['backbone.stem.0.weight', 'backbone.stages.0.x'])
    assert not layout(['stem.0.weight', 'stages.0.x', 'cls_token'])
    assert layout(iter(['stem.0', 'stages.0.x']))  # any iterable of keys
    assert KeyLayout(r'pos_embed$')(['pos_embed'])
    assert not KeyLayout(r'pos_embed$')(['pos_embed_extra'])
    assert KeyLayout('a', forbidden='b').forbidden == ('b', )
    either = KeyLayout(r'a\.') | KeyLayout(r'b\.')
    assert isinstance(either, AnyLayout)
    assert either(['b.x']) and either(['a.x']) and not either(['c.x'])
    assert (either | KeyLayout(r'c\.'))(['c.x'])
    assert "KeyLayout('a\\\\.') | KeyLayout('b\\\\.')" == repr(either)
    with pytest.raises(ValueError, match='at least one required'):
        KeyLayout()
    with pytest.raises(TypeError, match='must be str'):
        KeyLayout(r'a', forbidden=[1])
    with pytest.raises(TypeError, match='callables'):
        AnyLayout('a')


def test_prepare_state_dict():
    w = torch.ones(1)
    plain = {'a.weight': w, 'b': w}
    assert prepare_state_dict(plain) is plain  # nothing to do
    assert prepare_state_dict({'model': plain}) is plain
    assert prepare_state_dict({'state_dict': plain, 'meta': {}}) is plain
    ddp = {'module.a.weight': w, 'module.b': w}
    assert prepare_state_dict({'model': ddp}) == plain
    assert prepare_state_dict(ddp)['a.weight'] is w
    # only a prefix on every key is DDP's: a child called `module` stays
    mixed = {'module.a': w, 'b': w}
    assert strip_ddp_prefix(mixed) is mixed
    # stripped once
    twice = {'module.module.a': w}
    assert list(prepare_state_dict(twice)) == ['module.a']
    assert strip_ddp_prefix({}) == {}


@pytest.mark.parametrize('owner, label', SAMPLES)
def test_recognition(owner, label):
    """Each official layout is recognised by its own converter only."""
    state = sample(owner, label)
    for name in registered_converters():
        assert get_converter(name).recognises(state) == (name == owner), name
    assert recognising_converters(state) == [owner]
    assert recognising_converters({'model': state}) == [owner]
    assert recognising_converters(list(state)) == [owner]  # keys only


@pytest.mark.parametrize('owner, label', SAMPLES)
def test_mmvitplug_layouts_not_recognised(owner, label):
    """Converted (classifier) keys are nobody's official layout; a bare
    backbone state dict is only where its names are the official ones
    (DeiT, ConViT, DHVT, GhostNet: load_pretrained then sees that they are
    module keys; CaiT's self-attention LayerScale is ``ls{1,2}.gamma``, not
    ``gamma_{1,2}``)."""
    state = sample(owner, label)
    converted = get_converter(owner)(state)
    assert recognising_converters(converted) == []
    bare = {k[9:]: v for k, v in converted.items() if k[:9] == 'backbone.'}
    same_names = any(
        set(bare) <= set(sample(owner, other))
        for other in OFFICIAL_SAMPLES[owner])
    assert recognising_converters(bare) == ([owner] if same_names else [])
    assert same_names == (owner in ('DeiT', 'ConViT', 'DHVT', 'GhostNet'))


@pytest.mark.parametrize('name', registered_converters())
def test_module_prefixed_checkpoint(name):
    """DDP's ``module.`` prefix on every key, for every converter."""
    converter = get_converter(name)
    for label in OFFICIAL_SAMPLES[name]:
        state = sample(name, label)
        expected = converter(state)
        ddp = {f'module.{k}': v for k, v in state.items()}
        assert converter.recognises(ddp)
        for wrapped in (ddp, {'model': ddp, 'epoch': 3}):
            for convert in (converter, converter.function):
                out = convert(wrapped)
                assert list(out) == list(expected), label
                for key, value in expected.items():
                    assert out[key] is value or torch.equal(
                        out[key], value), (label, key)


def test_converters_reject_a_partial_module_prefix():
    """Only DDP's prefix on every key is removed; a stray one is unknown."""
    state = dict(sample('CaiT', 'cait_xxs24'))
    state['module.extra'] = state.pop('norm.weight')
    with pytest.raises(KeyError, match='module.extra'):
        convert_cait(state)


# ----------------------------------------------------------------- DeiT
@pytest.mark.parametrize('name, distilled', [
    ('deit_tiny_patch16_224', False),
    ('deit_tiny_distilled_patch16_224', True),
])
def test_convert_deit_key_sets(name, distilled):
    src = official(name)
    out = convert_deit(src)
    assert len(out) == len(src)  # every official key consumed, none added
    heads = {'head.head.weight', 'head.head.bias', 'head.head_dist.weight',
             'head.head_dist.bias'} if distilled else {
                 'head.fc.weight', 'head.fc.bias'}
    assert {k for k in out if not k.startswith('backbone.')} == heads
    assert ('backbone.dist_token' in out) == distilled
    n_blocks = 12 * 12  # 12 blocks x (6 layers x weight/bias)
    assert sum(k.startswith('backbone.blocks.') for k in out) == n_blocks
    for key in ('backbone.cls_token', 'backbone.pos_embed',
                'backbone.patch_embed.proj.weight', 'backbone.norm.bias',
                'backbone.blocks.11.attn.qkv.weight'):
        assert key in out
    # values are passed through untouched
    assert out['backbone.blocks.3.mlp.fc1.weight'] is \
        src['blocks.3.mlp.fc1.weight']
    assert to_official(out) == src  # round trip


def test_convert_deit_matches_module_keys():
    from mmvitplug.models.backbones import DeiT
    with torch.device('meta'):
        backbone = DeiT('deit-tiny', distilled=True)
    out = convert_deit(official('deit_tiny_distilled_patch16_224'))
    assert {k[9:] for k in out if k.startswith('backbone.')} == set(
        backbone.state_dict())


def test_convert_deit_model_wrapper():
    src = official('deit_tiny_patch16_224')
    wrapped = {'model': src, 'optimizer': {}, 'epoch': 299}
    assert convert_deit(wrapped).keys() == convert_deit(src).keys()


def test_convert_deit_unknown_keys():
    src = official('deit_tiny_patch16_224')
    src['fc_norm.weight'] = torch.ones(192)
    with pytest.raises(KeyError, match='fc_norm.weight'):
        convert_deit(src)
    src = official('deit_tiny_patch16_224')
    src['head_dist.weight'] = torch.ones(1000, 192)  # no dist_token: fine
    assert 'head.head_dist.weight' in convert_deit(src)
    src = {'blocks.0.attn.in_proj_weight': torch.ones(3)}
    with pytest.raises(KeyError, match='in_proj_weight'):
        convert_deit(src)


# ------------------------------------------------------------------ CLI
@pytest.fixture(scope='module')
def cli():
    return load_tool('model_converters/convert.py')


@pytest.mark.parametrize('spelling', ['DeiT', 'deit', 'mmvitplug.DeiT'])
def test_convert_cli(cli, tmp_path, spelling):
    src = official('deit_tiny_distilled_patch16_224')
    ddp = {f'module.{k}': v for k, v in src.items()}
    torch.save({'model': ddp}, tmp_path / 'official.pth')
    meta = cli.main(
        [spelling, str(tmp_path / 'official.pth'),
         str(tmp_path / 'out.pth')])
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert saved['meta'] == meta and meta['converter'] == 'DeiT'
    assert meta['num_tensors'] == len(src)
    expected = convert_deit(src)
    assert saved['state_dict'].keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(saved['state_dict'][key], value)


def test_convert_cli_bad_backbone(cli, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['vit', 'a', 'b'])
    err = capsys.readouterr().err
    assert "no converter is registered for backbone 'vit'" in err
    assert str(registered_converters()) in err
    with pytest.raises(SystemExit):
        cli.parse_args(['--help'])
    out = capsys.readouterr().out
    assert 'BACKBONE' in out and 'PatchConvNet' in out


def test_convert_cli_layout_mismatch(cli, tmp_path):
    torch.save(sample('CaiT', 'cait_xxs24'), tmp_path / 'cait.pth')
    with pytest.raises(SystemExit, match=r"not in the official DeiT layout"
                       r".*looks like \['CaiT'\]"):
        cli.main(['DeiT', str(tmp_path / 'cait.pth'), str(tmp_path / 'o')])
    torch.save({'stages.0.w': torch.ones(1)}, tmp_path / 'other.pth')
    with pytest.raises(SystemExit, match='no registered converter'):
        cli.main(['DeiT', str(tmp_path / 'other.pth'), str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_convert_cli_takes_new_converters(cli, tmp_path):
    """A converter registered later is a valid CLI choice."""

    def convert(state_dict):
        return {f'backbone.{k}': v for k, v in state_dict.items()}

    torch.save({'model': {'stem.0.weight': torch.ones(2)}},
               tmp_path / 'tiny.pth')
    with registered('TinyConvNeXt', r'stem\.', convert):
        meta = cli.main(
            ['tinyconvnext',
             str(tmp_path / 'tiny.pth'),
             str(tmp_path / 'out.pth')])
    assert meta['converter'] == 'TinyConvNeXt'
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert list(saved['state_dict']) == ['backbone.stem.0.weight']
    with pytest.raises(SystemExit):
        cli.parse_args(['TinyConvNeXt', 'a', 'b'])  # unregistered again
