# Copyright (c) mmvitplug contributors.
import argparse
import contextlib
import logging
import pickle
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import (KeyLayout, convert_deit, get_converter,
                                  register_converter, registered_converters,
                                  unregister_converter)
from mmvitplug.layers import resize_pos_embed
from mmvitplug.models.backbones import CaiT, DeiT, PatchConvNet, ResMLP
from mmvitplug.models.backbones.archnet_resnet import ArchNetResNet
from mmvitplug.models.backbones.cct import CCT
from mmvitplug.models.backbones.cmt import CMT
from mmvitplug.models.backbones.convit import ConViT
from mmvitplug.models.backbones.cvt import CvT
from mmvitplug.models.backbones.dhvt import DHVT
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
from mmvitplug.models.utils import (convert_if_official, is_official_layout,
                                    load_pretrained, unwrap_state_dict)
from mmvitplug.models.utils.pretrained import find_converter
from _builders import TEST_DATA

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
GOLDEN = Path(TEST_DATA) / 'patchconvnet_golden.pt'


def tiny(seed=0, **kwargs):
    kwargs.setdefault('arch', ARCH)
    kwargs.setdefault('img_size', 32)
    kwargs.setdefault('patch_size', 8)
    torch.manual_seed(seed)
    model = DeiT(**kwargs)
    model.init_weights()
    return model


def official_ckpt(model, num_classes=10):
    """An official-layout (timm / FB) checkpoint of a backbone."""
    state = dict(model.state_dict())
    state['head.weight'] = torch.randn(num_classes, model.embed_dims)
    state['head.bias'] = torch.randn(num_classes)
    return {'model': state}


def assert_same_weights(module, state_dict):
    for key, value in module.state_dict().items():
        assert torch.equal(value, state_dict[key]), key


@pytest.fixture
def log():
    logger = logging.getLogger('mmvitplug.test_pretrained')
    logger.propagate = True
    return logger


def test_report_missing_unexpected_mismatched(log, caplog):
    src = tiny(seed=1).state_dict()
    del src['norm.weight']
    src['extra.weight'] = torch.ones(3)
    src['blocks.0.mlp.fc1.bias'] = torch.ones(65)
    model = tiny(seed=0)
    kept_bias = model.blocks[0].mlp.fc1.bias.detach().clone()
    kept_norm = model.norm.weight.detach().clone()
    # (in DeiT's official names, the unknown key would make the converter
    # raise: see test_unknown_key_in_official_names_raises)
    ckpt = {'state_dict': {f'backbone.{k}': v for k, v in src.items()}}
    with caplog.at_level(logging.INFO, logger=log.name):
        report = load_pretrained(model, ckpt, prefix='backbone.', logger=log)
    assert report.missing_keys == ['norm.weight']
    assert report.unexpected_keys == ['extra.weight']
    assert report.mismatched == [('blocks.0.mlp.fc1.bias', (65, ), (64, ))]
    assert report.num_loaded == len(model.state_dict()) - 2
    assert not report.complete and not report.converted
    assert torch.equal(model.blocks[0].mlp.fc1.bias, kept_bias)
    assert torch.equal(model.norm.weight, kept_norm)
    assert torch.equal(model.blocks[1].attn.qkv.weight,
                       src['blocks.1.attn.qkv.weight'])
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert any('NOT loaded: blocks.0.mlp.fc1.bias' in m for m in warnings)
    assert any('missing' in m and 'norm.weight' in m for m in warnings)
    assert any('unexpected' in m and 'extra.weight' in m for m in warnings)
    info = [
        r.getMessage() for r in caplog.records if r.levelno == logging.INFO
    ]
    assert any(f'Loaded {report.num_loaded}/' in m for m in info)


def test_unknown_key_in_official_names_raises():
    """Not all module keys, DeiT's layout: converted, and the converter
    names the key it does not know instead of dropping it."""
    src = dict(tiny(seed=1).state_dict())
    src['extra.weight'] = torch.ones(3)
    with pytest.raises(KeyError, match='extra.weight'):
        load_pretrained(tiny(), src)


def test_backbone_prefixed_checkpoint(tmp_path):
    src = tiny(seed=1)
    state = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    state['head.fc.weight'] = torch.randn(10, 32)
    torch.save({'state_dict': state, 'meta': {}}, tmp_path / 'ckpt.pth')
    model = tiny(seed=0)
    report = load_pretrained(model, str(tmp_path / 'ckpt.pth'),
                             prefix='backbone.', converter=convert_deit)
    assert report.complete and not report.converted
    assert_same_weights(model, src.state_dict())
    with pytest.raises(ValueError, match="prefix 'neck.'"):
        load_pretrained(model, str(tmp_path / 'ckpt.pth'), prefix='neck.')
    with pytest.raises(ValueError, match='No tensor'):
        load_pretrained(model, str(tmp_path / 'ckpt.pth'))  # forgot prefix


@pytest.mark.parametrize('prefix', [None, 'backbone.'])
@pytest.mark.parametrize('explicit', [True, False])
def test_official_checkpoint(tmp_path, prefix, explicit):
    src = tiny(seed=1, distilled=True)
    ckpt = official_ckpt(src)
    ckpt['model']['head_dist.weight'] = torch.randn(10, 32)
    assert is_official_layout(ckpt, 'DeiT')
    torch.save(ckpt, tmp_path / 'official.pth')
    model = tiny(seed=0, distilled=True)
    report = load_pretrained(
        model, str(tmp_path / 'official.pth'), prefix=prefix,
        converter=convert_deit if explicit else None)
    assert report.converted and report.complete
    assert report.converter == 'DeiT'
    assert_same_weights(model, src.state_dict())


def test_official_checkpoint_without_head(tmp_path):
    """A headless official checkpoint (e.g. DINO's) with prefix='backbone.'
    is converted: its keys do not start with the prefix."""
    src = tiny(seed=1)
    model = tiny(seed=0)
    report = load_pretrained(
        model, {'model': dict(src.state_dict())}, prefix='backbone.')
    assert report.converted and report.complete
    assert_same_weights(model, src.state_dict())


def test_layout_detection():
    state = tiny().state_dict()
    assert not is_official_layout({'model': {}})
    assert is_official_layout(state)  # timm backbone layout
    assert is_official_layout(state, 'DeiT')
    assert is_official_layout({'model': state}, DeiT)
    assert is_official_layout(state, tiny())
    assert not is_official_layout(state, 'CaiT')
    assert not is_official_layout(state, nn.Linear(1, 1))  # no converter
    prefixed = {f'backbone.{k}': v for k, v in state.items()}
    assert not is_official_layout({'state_dict': prefixed})
    assert unwrap_state_dict({'state_dict': prefixed}) is prefixed
    assert not is_official_layout({'layers.0.ln1.weight': torch.ones(1)})
    with pytest.raises(KeyError, match='registered'):
        is_official_layout(state, 'ViT')


def test_bare_state_dict_in_official_names_is_not_converted():
    """The module-key protection: DeiT's names are timm's."""
    src = tiny(seed=1)
    state = src.state_dict()
    assert is_official_layout(state, 'DeiT')
    state_dict, prefix, converted = convert_if_official(
        state, None, tiny(), None)
    assert not converted and prefix is None and state_dict.keys() == \
        state.keys()
    report = load_pretrained(tiny(), {'module.' + k: v
                                      for k, v in state.items()})
    assert report.complete and not report.converted
    assert report.converter is None


def test_pos_embed_resized_on_load(log):
    src = tiny(seed=1, distilled=True)  # 4x4 grid
    model = tiny(seed=0, distilled=True, img_size=(48, 64))  # 6x8 grid
    report = load_pretrained(model, src.state_dict(), logger=log)
    assert report.complete
    assert report.resized == [('pos_embed', (1, 18, 32), (1, 50, 32))]
    expected = resize_pos_embed(
        src.pos_embed, (4, 4), (6, 8), num_extra_tokens=2)
    torch.testing.assert_close(model.pos_embed.data, expected)
    torch.testing.assert_close(model.pos_embed[:, :2], src.pos_embed[:, :2])


def test_module_prefix_stripped():
    src = tiny(seed=1)
    state = {f'module.{k}': v for k, v in src.state_dict().items()}
    model = tiny(seed=0)
    assert load_pretrained(model, state).complete
    assert_same_weights(model, src.state_dict())


def test_weights_only(tmp_path):
    payload = argparse.Namespace(code='arbitrary object')
    torch.save({'state_dict': tiny().state_dict(), 'obj': payload},
               tmp_path / 'pickled.pth')
    with pytest.raises(pickle.UnpicklingError):
        load_pretrained(tiny(), str(tmp_path / 'pickled.pth'))


def test_init_weights_loads_once(tmp_path):
    """Runner-style init, then a second init (as detectors do) keeps it."""
    from mmpretrain.registry import MODELS
    src = tiny(seed=1)
    torch.save(official_ckpt(src), tmp_path / 'official.pth')
    torch.manual_seed(0)
    classifier = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='mmvitplug.DeiT',
                arch=ARCH,
                img_size=32,
                patch_size=8,
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint=str(tmp_path / 'official.pth'),
                    prefix='backbone.')),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=10, in_channels=32)))
    classifier.init_weights()
    assert_same_weights(classifier.backbone, src.state_dict())
    classifier.backbone.init_weights()
    classifier.init_weights()
    assert_same_weights(classifier.backbone, src.state_dict())


def test_init_cfg_missing_keys_keep_default_init(tmp_path):
    src = tiny(seed=1)  # no distillation token
    torch.save(official_ckpt(src), tmp_path / 'plain.pth')
    torch.manual_seed(0)
    model = DeiT(ARCH, img_size=32, patch_size=8, distilled=True,
                 init_cfg=dict(type='Pretrained',
                               checkpoint=str(tmp_path / 'plain.pth')))
    model.init_weights()
    assert model.is_init
    assert torch.equal(model.cls_token, src.cls_token)
    assert torch.equal(model.blocks[1].mlp.fc2.weight,
                       src.blocks[1].mlp.fc2.weight)
    # absent from the checkpoint: DeiT's trunc-normal init, not zeros
    assert 0.005 < model.dist_token.std().item() < 0.05
    # (1, 18, 32) vs (1, 17, 32): reported, not loaded, default init kept
    assert not torch.equal(model.pos_embed[:, 2:], src.pos_embed[:, 1:])
    assert model.pos_embed.abs().sum() > 0


def test_pretrained_in_list_rejected(tmp_path):
    model = DeiT(ARCH, img_size=32, patch_size=8, init_cfg=[
        dict(type='Pretrained', checkpoint='x.pth')])
    with pytest.raises(ValueError, match='single dict'):
        model.init_weights()


# ------------------------------------------- converters found by the registry
CAIT_ARCH = dict(embed_dims=32, num_layers=3, num_heads=4,
                 feedforward_channels=64, init_values=0.5)
RESMLP_ARCH = dict(embed_dims=32, num_layers=3, feedforward_channels=64,
                   init_values=0.1)


def archnet_official(state):
    """An mmvitplug ArchNetResNet state dict in the official Arch-Net student
    layout (megvii-research/Arch-Net models/students/resnet18.py), with its
    8-bit classifier ``fc.linear_Q`` and a block's training-only adapter
    heads (the converter drops them)."""

    def rename(key):
        m = re.fullmatch(r'stem\.(\d)\.(conv|bn)\.(.+)', key)
        if m:
            k = int(m[1]) + 1
            return (f'conv{k}.conv_Q.{m[3]}' if m[2] == 'conv' else
                    f'bn{k}.{m[3]}')
        m = re.fullmatch(r'stages\.(\d)\.(\d+)\.(.+)', key)
        prefix, rest = f'layer{int(m[1]) + 1}.{m[2]}.', m[3]
        groups = len({k for k in state if re.match(
            rf'stages\.{m[1]}\.{m[2]}\.merge\.(\d)\.conv', k)})
        for ours, theirs in (
                (r'conv([12])\.conv\.(.+)', r'conv\1.conv_Q.\2'),
                (r'conv([12])\.bn\.(.+)', r'bn\1.\2'),
                (r'downsample\.conv\.(.+)', r'downsample.0.conv_Q.\1'),
                (r'downsample\.bn\.(.+)', r'downsample.1.\1')):
            if re.fullmatch(ours, rest):
                return prefix + re.sub(ours, theirs, rest)
        g, kind, leaf = re.fullmatch(r'merge\.(\d)\.(conv|bn)\.(.+)',
                                     rest).groups()
        if groups == 1:
            return prefix + ('concat_conv.conv_Q.' if kind == 'conv' else
                             'bn3.') + leaf
        return prefix + (f'concat_conv{int(g) + 1}.conv_Q.' if kind ==
                         'conv' else f'concat_bn{int(g) + 1}.') + leaf

    generator = torch.Generator().manual_seed(3)
    out = {rename(k): v for k, v in state.items()}
    out['fc.linear_Q.weight'] = torch.randn(10, 32, generator=generator)
    out['fc.linear_Q.bias'] = torch.randn(10, generator=generator)
    out['layer1.0.fc1_1.weight'] = torch.randn(1, 8, generator=generator)
    out['layer1.0.feature_adaptation_1_2.weight'] = torch.randn(
        8, 8, 3, 3, generator=generator)
    return out


def with_head(state, dims=32, num_classes=10):
    """An official classifier checkpoint: backbone keys + ``head.*``."""
    generator = torch.Generator().manual_seed(3)
    state = dict(state)
    state['head.weight'] = torch.randn(num_classes, dims, generator=generator)
    state['head.bias'] = torch.randn(num_classes, generator=generator)
    return state


def revcol_official(state, dims=32, num_classes=10):
    """mmvitplug RevCol names -> official ``models/revcol.py`` names, with
    the first column's shortcuts (which the converter drops) and the
    fine-tuned classifier ``cls.classifier.{0: LayerNorm, 1: Linear}``."""
    out = {}
    for key, value in state.items():
        parts = key.split('.')
        if parts[0] == 'stem':
            out[key] = value
            continue
        level, column, rest = parts[1], parts[2], parts[3:]
        if rest[0] == 'alpha':
            out[f'subnet{column}.alpha{level}'] = value
            out[f'subnet0.alpha{level}'] = torch.ones_like(value)
        elif rest[0] in ('down', 'up'):
            inner = 'down' if rest[0] == 'down' else 'up.channel_reschedule'
            out[f'subnet{column}.level{level}.fusion.{inner}.' +
                '.'.join(rest[1:])] = value
        else:
            out[f'subnet{column}.level{level}.' + '.'.join(rest)] = value
    generator = torch.Generator().manual_seed(4)
    out['cls.classifier.0.weight'] = torch.rand(dims, generator=generator)
    out['cls.classifier.0.bias'] = torch.rand(dims, generator=generator)
    out['cls.classifier.1.weight'] = torch.randn(num_classes, dims,
                                                 generator=generator)
    out['cls.classifier.1.bias'] = torch.randn(num_classes,
                                               generator=generator)
    return out


def sret_official(state):
    """mmvitplug SReT names -> official ``SReT.py`` names (each shared
    block under both of its official indices)."""
    out = {}
    for key, value in state.items():
        found = re.match(r'stages\.(\d+)\.(\d+)\.(.+)', key)
        if not found:
            out[key] = value
            continue
        stage, j, rest = int(found[1]), int(found[2]), found[3]
        if stage and j == 0:
            out[f'pools.{stage - 1}.{rest}'] = value
            continue
        unit = j - (stage > 0)
        where, _, name = rest.partition('.')
        prefix = f'transformers.{stage}.blocks.'
        if where == 'block':
            out[f'{prefix}{4 * unit}.{name}'] = value
            out[f'{prefix}{4 * unit + 2}.{name}'] = value
        else:  # projs.{p}.name
            p, _, name = name.partition('.')
            out[f'{prefix}{4 * unit + 1 + 2 * int(p)}.{name}'] = value
    return out


def resmlp_official(state):
    """mmvitplug ResMLP names -> official ``resmlp_models.py`` names."""
    out = {}
    for key, value in state.items():
        key = key.replace('.linear_tokens.', '.attn.')
        key = key.replace('.mlp_channels.', '.mlp.')
        out[re.sub(r'\.ls([12])\.gamma$', r'.gamma_\1', key)] = value
    return out


def cait_official(state):
    """mmvitplug CaiT names -> official / timm names (the self-attention
    blocks' LayerScale is ``gamma_{1,2}`` there)."""
    return {
        re.sub(r'^(blocks\.\d+)\.ls([12])\.gamma$', r'\1.gamma_\2', k): v
        for k, v in state.items()
    }


def cvt_official(state):
    """mmvitplug CvT names -> official ``cls_cvt.py`` names (the embedding
    of stage i > 0 is layer 0 of ``stages.i``, with the class token)."""
    out = {}
    for key, value in state.items():
        found = re.match(r'stages\.(\d+)\.(\d+)\.(.*)', key)
        if key.startswith('patch_embed.'):
            key = 'stage0.' + key
        elif found and found[1] != '0' and found[2] == '0':
            key = f'stage{found[1]}.patch_embed.{found[3]}'.replace(
                'patch_embed.cls_token', 'cls_token')
        elif found:
            j = int(found[2]) - (found[1] != '0')
            key = f'stage{found[1]}.blocks.{j}.{found[3]}'
        out[key] = value
    return out


def cct_official(state):
    """mmvitplug CCT + ``head.*`` -> official ``tokenizer.*`` /
    ``classifier.*`` names (inverse of convert_cct, written apart)."""
    out = {}
    for key, value in state.items():
        for old, new in ((r'^pos_embed', 'positional_emb'),
                         (r'^head\.', 'fc.'), (r'\.norm1\.', '.pre_norm.'),
                         (r'\.norm2\.', '.norm1.'),
                         (r'\.attn\.', '.self_attn.'),
                         (r'\.mlp\.fc(\d)\.', r'.linear\1.')):
            key = re.sub(old, new, key)
        prefix = '' if key.startswith('tokenizer.') else 'classifier.'
        out[prefix + key] = value
    return out


#: Per registered converter: a tiny backbone (class, kwargs) and its official
#: classifier checkpoint (10 classes) made from a random instance.
LOAD_SAMPLES = {
    # the official code's own state dict (float16 in the file; with the
    # persistent attention_bias_idxs the converter drops)
    'LeViT': (LeViT, dict(arch=dict(embed_dims=[16, 24, 32], key_dim=4,
                                    num_heads=[2, 3, 4], depths=[1, 1, 2]),
                          img_size=80),
              lambda m: {k: v.float() if v.is_floating_point() else v
                         for k, v in torch.load(
                             Path(TEST_DATA) / 'levit_golden.pt',
                             weights_only=True)['state_dict'].items()}),
    'CCT': (CCT, dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                feedforward_channels=64, kernel_size=3,
                                num_conv_layers=1), img_size=16),
            lambda m: cct_official(with_head(m.state_dict()))),
    # the official code's own state dict (float16 in the file)
    'CMT': (CMT, dict(arch=dict(embed_dims=[16, 16, 24, 32],
                                depths=[2, 1, 1, 1], num_heads=[1, 2, 2, 4],
                                mlp_ratio=3.6, stem_channels=8),
                      img_size=64, head_dims=32),
            lambda m: {k: v.float() if v.is_floating_point() else v
                       for k, v in torch.load(
                           Path(TEST_DATA) / 'cmt_golden.pt',
                           weights_only=True)['state_dict'].items()}),
    # mmvitplug stages.{s}.{j} -> official transformers.{s}.blocks / pools
    'PiT': (PiT, dict(arch=dict(embed_dims=(8, 16, 32), depths=(1, 1, 1),
                                num_heads=(1, 2, 2), patch_kernel=8,
                                patch_stride=4), img_size=32),
            lambda m: with_head({
                re.sub(r'^stages\.(\d+)\.(\d+)\.', lambda g: (
                    f'pools.{int(g[1]) - 1}.' if g[1] != '0' and g[2] == '0'
                    else f'transformers.{g[1]}.blocks.'
                    f'{int(g[2]) - (g[1] != "0")}.'), k): v
                for k, v in m.state_dict().items()})),
    # mmvitplug stages.{s}.{j} -> official blocks.{s}.{i} / ds{s + 1};
    # head -> classifier.1
    'HATNet': (HATNet, dict(arch=dict(
        embed_dims=(8, 16, 24, 32), head_dim=8, depths=(1, 1, 1, 1),
        expansions=(2, 2, 2, 2), grid_sizes=(2, 2, 1, 1),
        ds_ratios=(2, 2, 1, 1), kernel_sizes=(3, 3, 3, 3))),
               lambda m: {
                   re.sub(r'^stages\.(\d+)\.(\d+)\.', lambda g: (
                       f'ds{int(g[1]) + 1}.' if g[1] != '0' and g[2] == '0'
                       else f'blocks.{g[1]}.{int(g[2]) - (g[1] != "0")}.'),
                       k).replace('head.', 'classifier.1.'): v
                   for k, v in with_head(m.state_dict()).items()}),
    # mmvitplug stages.{s}.{j}.block / projs.{p} -> official
    # transformers.{s}.blocks.{4u} and {4u + 2} (the shared block twice) /
    # {4u + 1 + 2p}; stages.{s}.0 -> pools.{s - 1}
    'SReT': (SReT, dict(arch=dict(embed_dims=(8, 16, 32), num_heads=(1, 2, 4),
                                  depths=(1, 1, 1), groups1=(2, 1, 1),
                                  groups2=(2, 1, 1), mlp_ratio=2.,
                                  np_mlp_ratio=1.), img_size=32),
             lambda m: with_head(sret_official(m.state_dict()))),
    # LIT-S style: as LITv2 below
    'LIT': (LIT, dict(arch=dict(embed_dims=(4, 8, 16, 32),
                                depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4),
                                mlp_ratios=(4, 4, 4, 4), has_msa=(0, 0, 1, 1),
                                position='relative'), img_size=32),
            lambda m: with_head({
                re.sub(r'^stages\.(\d+)\.(\d+)\.', lambda g: (
                    f'layers.{int(g[1]) - 1}.downsample.'
                    if g[1] != '0' and g[2] == '0'
                    else f'layers.{g[1]}.blocks.'
                    f'{int(g[2]) - (g[1] != "0")}.'), k): v
                for k, v in m.state_dict().items()})),
    # mmvitplug stages.{s}.{j} -> official layers.{s}.blocks / the DTM
    # layers.{s - 1}.downsample; norm{i}: the detection backbone's names
    'LITv2': (LITv2, dict(arch=dict(embed_dims=4, depths=(1, 1, 1, 1),
                                    num_heads=(1, 2, 2, 4),
                                    window_sizes=(0, 0, 2, 1))),
              lambda m: with_head({
                  re.sub(r'^stages\.(\d+)\.(\d+)\.', lambda g: (
                      f'layers.{int(g[1]) - 1}.downsample.'
                      if g[1] != '0' and g[2] == '0'
                      else f'layers.{g[1]}.blocks.'
                      f'{int(g[2]) - (g[1] != "0")}.'), k): v
                  for k, v in m.state_dict().items()})),
    'CvT': (CvT, dict(arch=dict(embed_dims=(16, 24, 32), num_heads=(1, 2, 2),
                                depths=(1, 1, 2))),
            lambda m: with_head(cvt_official(m.state_dict()))),
    'DeiT': (DeiT, dict(arch=ARCH, img_size=32, patch_size=8),
             lambda m: with_head(m.state_dict())),
    # the official student's names (conv_Q / linear_Q wrappers, concat
    # convolutions, a split last stage)
    'ArchNetResNet': (ArchNetResNet, dict(
        arch=dict(depths=(1, 1, 1, 1), widths=(8, 16, 24, 32)),
        max_conv_in=32), lambda m: archnet_official(m.state_dict())),
    # mmvitplug levels.{l}.{i} -> official subnet{i}.level{l}
    'RevCol': (RevCol, dict(arch=dict(channels=(8, 16, 24, 32),
                                      depths=(1, 1, 1, 1), num_columns=2)),
               lambda m: revcol_official(m.state_dict())),
    # the official code's own state dict (pre-norm, InternImage-T style)
    'InternImage': (InternImage, dict(arch=dict(channels=8,
                                                depths=(1, 1, 2, 1),
                                                groups=(1, 2, 4, 8))),
                    lambda m: torch.load(
                        Path(TEST_DATA) / 'internimage_golden.pt',
                        weights_only=True)['models']['t_style']
                    ['state_dict']),
    # the official code's own state dict (layer{i} -> stages.{i - 1})
    'GGhostRegNet': (GGhostRegNet, dict(arch=dict(
        depths=(1, 3, 4, 3), widths=(16, 32, 48, 64), group_width=8)),
                     lambda m: torch.load(
                         Path(TEST_DATA) / 'g_ghost_regnet_golden.pt',
                         weights_only=True)['models']['ghost_all']
                     ['state_dict']),
    # official / timm names = ours; the head: conv_head (1x1 to 1280) and
    # classifier
    'GhostNet': (GhostNet, dict(arch=dict(width=0.25, dfc=True)),
                 lambda m: dict(m.state_dict(), **{
                     'conv_head.weight': torch.randn(1280, 240, 1, 1),
                     'conv_head.bias': torch.randn(1280),
                     'classifier.weight': torch.randn(10, 1280),
                     'classifier.bias': torch.randn(10)})),
    # official names = ours
    'DHVT': (DHVT, dict(arch=dict(embed_dims=32, num_layers=2, num_heads=4,
                                  patch_size=4)),
             lambda m: with_head(m.state_dict())),
    # official names = ours (GPSA block 0, then the class token joins)
    'ConViT': (ConViT, dict(arch=dict(ARCH, local_up_to_layer=1),
                            img_size=32, patch_size=8, use_local_init=False),
               lambda m: with_head(m.state_dict())),
    'CaiT': (CaiT, dict(arch=CAIT_ARCH, img_size=32, patch_size=8),
             lambda m: with_head(cait_official(m.state_dict()))),
    'ResMLP': (ResMLP, dict(arch=RESMLP_ARCH, img_size=32, patch_size=8),
               lambda m: with_head(resmlp_official(m.state_dict()))),
    # the official code's own state dict
    'PatchConvNet': (PatchConvNet, dict(arch=dict(embed_dims=32,
                                                  num_layers=2)),
                     lambda m: torch.load(GOLDEN, weights_only=True)
                     ['single']['state_dict']),
    # official: pos_embeder, (heads, 1, 1) temperatures, fused CA qkv
    'XCiT': (__import__('mmvitplug.models.backbones.xcit',
                        fromlist=['XCiT']).XCiT,
             dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                            patch_size=4, init_values=1.0)),
             lambda m: (lambda sd: with_head({
                 **{re.sub(r'^pos_embed\.', 'pos_embeder.', k).replace(
                     'head_temperature', 'temperature'):
                    v.view(-1, 1, 1) if 'temperature' in k else v
                    for k, v in sd.items()
                    if not re.match(r'cls_attn_blocks\.\d+\.attn\.[qkv]\.',
                                    k)},
                 **{k.replace('.q.', '.qkv.'): torch.cat(
                     [sd[k.replace('.q.', f'.{n}.')] for n in 'qkv'])
                    for k in sd
                    if re.match(r'cls_attn_blocks\.\d+\.attn\.q\.', k)},
             }))(m.state_dict())),
    # timm: s{i+1}.b{j+1}, se.fc1 / fc2, head.fc
    'RegNetY': (__import__('mmvitplug.models.backbones.regnety',
                           fromlist=['RegNetY']).RegNetY,
                dict(arch=dict(w0=8, wa=8, wm=2., depth=4, group_width=8)),
                lambda m: {
                    re.sub(r'^stages\.(\d+)\.(\d+)\.', lambda g:
                           f's{int(g[1]) + 1}.b{int(g[2]) + 1}.', k)
                    .replace('se.conv_reduce', 'se.fc1')
                    .replace('se.conv_expand', 'se.fc2')
                    .replace('head.', 'head.fc.'): v
                    for k, v in with_head(m.state_dict()).items()}),
}


def load_sample(name, seed=0):
    cls, kwargs, make_official = LOAD_SAMPLES[name]
    torch.manual_seed(seed)
    module = cls(**kwargs)
    module.init_weights()
    return module, make_official(module)


#: The classifier head of a LOAD_SAMPLES model, where it is not one Linear.
CLASSIFIER_HEADS = {
    'RevCol': dict(type='mmvitplug.RevColClsHead', num_classes=10,
                   in_channels=32),
    'LeViT': dict(type='mmvitplug.LeViTClsHead', num_classes=10,
                  in_channels=32),
    'InternImage': dict(type='mmvitplug.InternImageClsHead', num_classes=10,
                        in_channels=64),
    'GhostNet': dict(type='mmvitplug.GhostNetClsHead', num_classes=10,
                     in_channels=240),
    'GGhostRegNet': dict(type='LinearClsHead', num_classes=10,
                         in_channels=64),
    'ArchNetResNet': dict(type='mmvitplug.QuantLinearClsHead',
                          num_classes=10, in_channels=32),
}


def build_classifier(name, seed=0):
    from mmpretrain.registry import MODELS
    cls, kwargs, _ = LOAD_SAMPLES[name]
    torch.manual_seed(seed)
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type=f'mmvitplug.{cls.__name__}', **kwargs),
            neck=None,
            head=CLASSIFIER_HEADS.get(
                name,
                dict(type='LinearClsHead', num_classes=10, in_channels=32))))


def ddp(state):
    return {f'module.{k}': v for k, v in state.items()}


def test_every_registered_converter_has_a_load_sample():
    missing = set(registered_converters()) - set(LOAD_SAMPLES)
    assert not missing, f'add a tiny {sorted(missing)} to LOAD_SAMPLES'


@pytest.mark.parametrize('name', registered_converters())
def test_module_prefixed_official_checkpoint(name):
    """``module.``-prefixed official checkpoints load into a backbone of
    every registered type, converted by the registry (no converter=)."""
    _, official = load_sample(name, seed=1)
    converted = get_converter(name)(official)
    expected = {k[9:]: v for k, v in converted.items()
                if k.startswith('backbone.')}
    assert get_converter(name).recognises(ddp(official))
    for checkpoint in (official, ddp(official), {'model': ddp(official)},
                       {'state_dict': ddp(official), 'meta': {}}):
        model, _ = load_sample(name, seed=0)
        report = load_pretrained(model, checkpoint, logger=None)
        assert report.converted and report.converter == name
        assert report.complete
        assert_same_weights(model, expected)


@pytest.mark.parametrize('name', registered_converters())
def test_official_checkpoint_into_classifier(name):
    """A whole classifier (e.g. a distillation teacher) finds the converter
    of its backbone and loads backbone and head."""
    _, official = load_sample(name, seed=1)
    converted = get_converter(name)(official)
    classifier = build_classifier(name)
    assert find_converter(classifier) is get_converter(name)
    report = load_pretrained(classifier, {'model': ddp(official)},
                             logger=None)
    assert report.converted and report.converter == name
    assert report.complete
    assert_same_weights(classifier, converted)


@pytest.mark.parametrize('name, grid_key', [
    ('PiT', 'pos_embed'),  # spatial (1, C, H, W) position embedding
    ('LeViT', 'attention_biases'),  # attention-bias tables
])
def test_grid_tied_weights_resized_in_a_whole_classifier(name, grid_key):
    """A classifier (e.g. a distillation teacher) whose backbone has
    another grid than the checkpoint: the backbone's resize hook applies,
    the resized keys are reported, and the classifier equals its backbone
    loaded alone."""
    cls, kwargs, _ = LOAD_SAMPLES[name]
    src = build_classifier(name, seed=1)
    state = src.state_dict()
    big = dict(kwargs, img_size=2 * kwargs['img_size'])
    torch.manual_seed(1)
    large = cls(**big)
    large.init_weights()
    ckpt = dict(state)
    ckpt.update({'backbone.' + k: v for k, v in large.state_dict().items()})
    classifier = build_classifier(name)
    report = load_pretrained(classifier, ckpt, logger=None)
    resized = [k for k, _, _ in report.resized]
    assert resized and all(grid_key in k for k in resized), resized
    assert not report.mismatched and report.complete
    alone = cls(**kwargs)
    alone_report = load_pretrained(alone, large.state_dict(), logger=None)
    assert [k for k, _, _ in alone_report.resized] == \
        [k[len('backbone.'):] for k in resized]
    assert_same_weights(classifier.backbone, alone.state_dict())


def test_subclass_uses_base_converter():

    class MyDeiT(DeiT):
        pass

    torch.manual_seed(0)
    model = MyDeiT(ARCH, img_size=32, patch_size=8)
    assert find_converter(model) is get_converter('DeiT')
    src = tiny(seed=1)
    report = load_pretrained(model, official_ckpt(src), logger=None)
    assert report.converted and report.converter == 'DeiT'
    assert_same_weights(model, src.state_dict())
    assert find_converter(nn.Linear(1, 1)) is None


def test_explicit_converter_wins():
    calls = []

    def spy(state_dict):
        calls.append(list(state_dict))
        return convert_deit(state_dict)

    src = tiny(seed=1)
    model = tiny(seed=0)
    report = load_pretrained(
        model, {'model': ddp(official_ckpt(src)['model'])}, converter=spy,
        logger=None)
    assert report.converted and report.converter == 'spy'
    assert_same_weights(model, src.state_dict())
    # called once, on the unwrapped state dict without DDP's prefix
    assert len(calls) == 1 and 'head.weight' in calls[0]
    assert not any(k.startswith('module.') for k in calls[0])
    # with DeiT's recogniser: an mmvitplug classifier checkpoint is not
    # passed to it
    classifier_ckpt = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    report = load_pretrained(tiny(), classifier_ckpt, prefix='backbone.',
                             converter=spy, logger=None)
    assert len(calls) == 1 and not report.converted and report.complete
    # a registered converter passed explicitly brings its own recogniser
    report = load_pretrained(tiny(), official_ckpt(src),
                             converter=get_converter('CaiT').function,
                             logger=None)
    assert not report.converted
    with pytest.raises(TypeError, match='callable'):
        load_pretrained(tiny(), official_ckpt(src), converter='DeiT')


def test_foreign_official_layout_is_reported(log, caplog):
    torch.manual_seed(0)
    cait = CaiT(CAIT_ARCH, img_size=32, patch_size=8)
    ckpt = {'model': with_head(cait_official(cait.state_dict()))}
    with caplog.at_level(logging.INFO, logger=log.name):
        report = load_pretrained(tiny(), ckpt, logger=log)
    assert not report.converted and report.unexpected_keys
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert any("official layout of ['CaiT']" in m and 'DeiT' in m
               for m in warnings), warnings


@pytest.mark.parametrize('name', registered_converters())
def test_checkpoint_of_another_family_is_named(name, log, caplog):
    """An official checkpoint of another family never loads silently into
    a backbone of every registered type: nothing is converted, its keys are
    reported and the warning names the family whose layout it is."""
    names = registered_converters()
    other = names[(names.index(name) + 1) % len(names)]
    _, foreign = load_sample(other, seed=1)
    model, _ = load_sample(name, seed=0)
    named = f"official layout of ['{other}']"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with caplog.at_level(logging.INFO, logger=log.name):
        try:
            report = load_pretrained(model, {'model': foreign}, logger=log)
        except ValueError as error:  # no tensor at all matches
            assert named in str(error) and name in str(error)
            return
    assert not report.converted and not report.complete
    assert report.unexpected_keys
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert any(named in m for m in warnings), warnings
    # at most same-named tensors of equal shape were copied
    changed = [k for k, v in model.state_dict().items()
               if not torch.equal(v, before[k])]
    assert len(changed) < len(before)


# ------------------------------- a new layout: ConvNeXt-style stem / stages
class TinyConvNeXt(nn.Module):
    """mmpretrain-style names: ``downsample_layers`` and ``stages.i.j``."""

    def __init__(self):
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, 8, 4, 4), nn.BatchNorm2d(8))])
        self.stages = nn.ModuleList([
            nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8),
                          nn.Conv2d(8, 8, 1))
        ])


class TinyConvNeXtClassifier(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = TinyConvNeXt()
        self.head = nn.Module()
        self.head.fc = nn.Linear(8, 10)


_CONVNEXT_RULES = (
    (r'stem\.0\.(.+)', r'backbone.downsample_layers.0.0.\1'),
    (r'stem\.1\.(.+)', r'backbone.downsample_layers.0.1.\1'),
    (r'stages\.(\d+)\.blocks\.0\.conv_dw\.(.+)', r'backbone.stages.\1.0.\2'),
    (r'stages\.(\d+)\.blocks\.0\.conv_pw\.(.+)', r'backbone.stages.\1.1.\2'),
    (r'head\.fc\.(weight|bias)', r'head.fc.\1'),
)


def convert_tiny_convnext(state_dict):
    """timm-style ConvNeXt names -> TinyConvNeXt classifier names."""
    out = {}
    for key, value in state_dict.items():
        for pattern, template in _CONVNEXT_RULES:
            match = re.fullmatch(pattern, key)
            if match:
                out[match.expand(template)] = value
                break
        else:
            raise KeyError(f'not a TinyConvNeXt key: {key}')
    return out


def convnext_official(classifier):
    """TinyConvNeXt classifier -> timm-style names (independent inverse)."""
    out = {}
    for key, value in classifier.state_dict().items():
        key = key.replace('backbone.downsample_layers.0.', 'stem.')
        key = re.sub(r'backbone\.stages\.(\d+)\.0\.',
                     r'stages.\1.blocks.0.conv_dw.', key)
        key = re.sub(r'backbone\.stages\.(\d+)\.1\.',
                     r'stages.\1.blocks.0.conv_pw.', key)
        out[key] = value
    return out


@contextlib.contextmanager
def convnext_registered():
    register_converter(
        'TinyConvNeXt', recognise=KeyLayout(r'stem\.',
                                            r'stages\.\d+\.blocks\.'))(
                                                convert_tiny_convnext)
    try:
        yield
    finally:
        unregister_converter('TinyConvNeXt')


def randomised(module, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for value in module.state_dict().values():
            if value.is_floating_point():
                value.copy_(torch.randn_like(value))
    return module


def test_convnext_style_layout_needs_a_registered_converter():
    src = randomised(TinyConvNeXtClassifier(), 1)
    official = convnext_official(src)
    assert 'stem.0.weight' in official
    assert 'stages.0.blocks.0.conv_dw.weight' in official
    assert not is_official_layout(official)
    # unregistered: loads unconverted, nothing matches
    with pytest.raises(ValueError, match='No tensor'):
        load_pretrained(TinyConvNeXt(), official, logger=None)
    # an explicit, unregistered converter for an unregistered module
    model = TinyConvNeXt()
    report = load_pretrained(model, official,
                             converter=convert_tiny_convnext, logger=None)
    assert report.converted and report.converter == 'convert_tiny_convnext'
    assert_same_weights(model, src.backbone.state_dict())


@pytest.mark.parametrize('wrap', [False, True])
def test_convnext_style_converter_registered_in_a_test(wrap):
    src = randomised(TinyConvNeXtClassifier(), 1)
    official = convnext_official(src)
    checkpoint = {'model': ddp(official)} if wrap else official

    class MyConvNeXt(TinyConvNeXt):
        pass

    with convnext_registered():
        assert is_official_layout(checkpoint, 'TinyConvNeXt')
        assert is_official_layout(checkpoint) and not is_official_layout(
            checkpoint, 'DeiT')
        # its own (mmvitplug) layout is not recognised
        assert not is_official_layout(src.backbone.state_dict(),
                                      'TinyConvNeXt')
        for model in (TinyConvNeXt(), MyConvNeXt()):
            report = load_pretrained(model, checkpoint, logger=None)
            assert report.converted and report.complete
            assert report.converter == 'TinyConvNeXt'
            assert_same_weights(model, src.backbone.state_dict())
        teacher = TinyConvNeXtClassifier()
        report = load_pretrained(teacher, checkpoint, logger=None)
        assert report.converted and report.complete
        assert_same_weights(teacher, src.state_dict())
        # an mmvitplug checkpoint still loads as is
        model = TinyConvNeXt()
        report = load_pretrained(model, src.backbone.state_dict(),
                                 logger=None)
        assert not report.converted and report.complete
    assert 'TinyConvNeXt' not in registered_converters()
    with pytest.raises(ValueError, match='No tensor'):
        load_pretrained(TinyConvNeXt(), checkpoint, logger=None)
