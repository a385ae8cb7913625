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


def _drnet_results():
    def drnet(top1, chosen, fixed, avg):
        return dict(top1=top1, sizes=[32, 24, 16], chosen=chosen,
                    right=chosen, total=359, fixed_top1=fixed,
                    flops=[9.91e6, 5.6e6, 2.5e6], predictor_flops=0.1e6,
                    avg_flops=avg, step=6)

    return {
        0: dict(drnet=drnet(97.2145, [200, 100, 59], [90.5, 44.0, 97.2],
                            5.80e6),
                baseline=dict(top1=98.3, flops=9.91e6, size=(32, 32),
                              step=6)),
        1: dict(drnet=drnet(98.1, [150, 100, 109], [85.5, 41.8, 98.3],
                            5.36e6),
                baseline=dict(top1=98.1, flops=9.91e6, size=(32, 32),
                              step=6)),
    }


def test_record_writes_the_claim_subjects(tool, tmp_path):
    import argparse

    from mmvitplug.utils.zoo import load_results
    args = argparse.Namespace(drnet=DRNET, baseline=BASELINE, record='drnet',
                              results_root=str(tmp_path))
    tool.record(args, _drnet_results())
    got = load_results('drnet', root=str(tmp_path))
    ours = 'drnet-resnet18-w32_1xb64_digits'
    base = 'resnet/sup-resnet18-w32_1xb64_digits@drnet-comparison'
    assert set(got) == {ours, base} | {f'{ours}@all-{s}px'
                                       for s in (16, 24, 32)}
    assert set(got[ours]) == {'accuracy/top1', 'flops/ratio'}
    assert got[ours]['accuracy/top1']['values'] == {0: 97.21, 1: 98.1}
    assert got[ours]['flops/ratio']['values'] == {0: 0.5853, 1: 0.5409}
    assert got[f'{ours}@all-24px']['accuracy/top1']['values'] == {
        0: 44.0, 1: 41.8}
    assert got[f'{ours}@all-32px']['accuracy/top1']['values'] == {
        0: 90.5, 1: 85.5}
    assert got[base]['accuracy/top1']['values'] == {0: 98.3, 1: 98.1}
    for metrics in got.values():
        assert set(metrics) <= {'accuracy/top1', 'flops/ratio'}
        for record in metrics.values():
            assert record['tool'] == 'tools/analysis/drnet_claims.py'
            assert 'transcribed' not in record
            assert 'step 6' in record['note']
            assert '359 validation images' in record['note']
    note = got[ours]['flops/ratio']['note']
    assert '5.80 / 5.36 vs 9.91 MFLOPs' in note and '32x32 px' in note
    assert 'every image at 16 px' in got[f'{ours}@all-16px'][
        'accuracy/top1']['note']


def test_main_records_when_asked(tool, tmp_path, monkeypatch):
    from mmvitplug.utils.zoo import load_results
    results = _drnet_results()
    seeds = iter([0, 0, 1, 1])
    monkeypatch.setattr(tool, 'train', lambda *a: None)
    monkeypatch.setattr(tool, 'checkpoints', lambda w: [(6, 'x.pth')])
    monkeypatch.setattr(
        tool, 'evaluate_drnet',
        lambda c, p: {**results[next(seeds)]['drnet'], 'step': None})
    monkeypatch.setattr(
        tool, 'evaluate_baseline',
        lambda c, p: {**results[next(seeds)]['baseline'], 'step': None})
    got = tool.main([DRNET, BASELINE, '--work-dir', str(tmp_path / 'w'),
                     '--record', 'drnet', '--results-root', str(tmp_path)])
    assert got[1]['drnet']['step'] == 6
    recorded = load_results('drnet', root=str(tmp_path))
    assert recorded['drnet-resnet18-w32_1xb64_digits']['flops/ratio'][
        'values'] == {0: 0.5853, 1: 0.5409}
