# Copyright (c) mmvitplug contributors.
"""tools/analysis/drnet_claims.py evaluates a DRNet checkpoint and its
fixed-resolution peer: the choices add up to the validation set, the
average FLOPs per image is the predictor's plus the chosen resolutions',
and the peer's count at 32 px is DRNet's classifier's at 32 px."""
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool

DRNET = 'configs/bundled/drnet/drnet-resnet18-w32_1xb64_digits.py'
BASELINE = 'configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py'


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    monkeypatch.chdir(REPO_ROOT)  # the data paths are the repository's
    return load_tool('analysis/drnet_claims.py')


def test_evaluate_drnet_and_its_peer(tool, tmp_path, bundled_digits):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    paths = {}
    for name, config in (('drnet', DRNET), ('baseline', BASELINE)):
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(config).model)
        paths[name] = str(tmp_path / f'{name}.pth')
        torch.save({'state_dict': model.state_dict()}, paths[name])
    d = tool.evaluate_drnet(DRNET, paths['drnet'])
    b = tool.evaluate_baseline(BASELINE, paths['baseline'])
    assert d['sizes'] == [32, 24, 16] and d['total'] == 359
    assert sum(d['chosen']) == 359
    assert all(0 <= r <= c for r, c in zip(d['right'], d['chosen']))
    assert d['top1'] == pytest.approx(100. * sum(d['right']) / 359)
    assert d['avg_flops'] == pytest.approx(d['predictor_flops'] + sum(
        c * f for c, f in zip(d['chosen'], d['flops'])) / 359)
    assert d['flops'][0] > d['flops'][1] > d['flops'][2]
    assert len(d['fixed_top1']) == 3
    # the same ResNet-18-w32 at 32 px, counted through either model
    assert b['size'] == (32, 32) and b['flops'] == d['flops'][0]
    assert 0 <= b['top1'] <= 100
