# Copyright (c) mmvitplug contributors.
import argparse
import logging
import pickle

import pytest
import torch

from mmvitplug.converters import convert_deit
from mmvitplug.layers import resize_pos_embed
from mmvitplug.models.backbones import DeiT
from mmvitplug.models.utils import (is_official_layout, load_pretrained,
                                    unwrap_state_dict)

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


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
    with caplog.at_level(logging.INFO, logger=log.name):
        report = load_pretrained(model, src, logger=log)
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
def test_official_checkpoint(tmp_path, prefix):
    src = tiny(seed=1, distilled=True)
    ckpt = official_ckpt(src)
    ckpt['model']['head_dist.weight'] = torch.randn(10, 32)
    assert is_official_layout(ckpt)
    torch.save(ckpt, tmp_path / 'official.pth')
    model = tiny(seed=0, distilled=True)
    report = load_pretrained(model, str(tmp_path / 'official.pth'),
                             prefix=prefix, converter=convert_deit)
    assert report.converted and report.complete
    assert_same_weights(model, src.state_dict())
    # without a converter the official head keys are not silently dropped
    report = load_pretrained(tiny(distilled=True), ckpt)
    assert report.unexpected_keys == ['head.weight', 'head.bias',
                                      'head_dist.weight']


def test_layout_detection():
    state = tiny().state_dict()
    assert is_official_layout({'model': {}})
    assert is_official_layout(state)  # timm backbone layout
    prefixed = {f'backbone.{k}': v for k, v in state.items()}
    assert not is_official_layout({'state_dict': prefixed})
    assert unwrap_state_dict({'state_dict': prefixed}) is prefixed
    assert not is_official_layout({'layers.0.ln1.weight': torch.ones(1)})


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
