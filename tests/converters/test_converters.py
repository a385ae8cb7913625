# Copyright (c) mmvitplug contributors.
from pathlib import Path

import pytest
import torch

from mmvitplug.converters import CONVERTERS, convert_deit

timm = pytest.importorskip('timm')


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


def test_registry():
    assert CONVERTERS['deit'] is convert_deit


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


def test_convert_cli(tmp_path):
    import importlib.util
    path = Path(__file__).parents[1] / 'tools/model_converters/convert.py'
    spec = importlib.util.spec_from_file_location('convert', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    src = official('deit_tiny_distilled_patch16_224')
    torch.save({'model': src}, tmp_path / 'official.pth')
    meta = cli.main(
        ['deit', str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth')])
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert saved['meta'] == meta and meta['converter'] == 'deit'
    assert meta['num_tensors'] == len(src)
    expected = convert_deit(src)
    assert saved['state_dict'].keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(saved['state_dict'][key], value)
    with pytest.raises(SystemExit):
        cli.parse_args(['vit', 'a', 'b'])
