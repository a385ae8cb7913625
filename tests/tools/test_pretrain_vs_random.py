# Copyright (c) mmvitplug contributors.
"""tools/analysis/pretrain_vs_random.py: which evaluation runs how, and
which metrics it reports (the runs themselves are the tools' e2e tests)."""
import json
import os
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool


def _tool():
    return load_tool('analysis/pretrain_vs_random.py')


def test_test_configs_and_linear_probes_are_told_apart():
    tool = _tool()
    bundled = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino')
    assert tool._is_test_config(
        osp.join(bundled, 'knn-deit-4l64d-p8_1xb128_digits.py'))
    assert not tool._is_test_config(
        osp.join(bundled, 'linear-deit-4l64d-p8_1xb64_digits.py'))


def _write(path, records):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')


def test_metrics_are_the_last_top1_values(tmp_path):
    tool = _tool()
    # a test run: <ts>/<ts>.json
    _write(str(tmp_path / 'knn' / '20260101' / '20260101.json'),
           [{'knn/top1_k10': 40.0, 'knn/top1_k20': 41.0,
             'knn/top5_k20': 90.0}])
    assert tool._metrics(str(tmp_path / 'knn'), None) == {
        'knn/top1_k10': 40.0, 'knn/top1_k20': 41.0}
    # a training run: <ts>/vis_data/scalars.json, the last value wins
    _write(str(tmp_path / 'lin' / '20260101' / 'vis_data' / 'scalars.json'),
           [{'loss': 1.0, 'lr': 0.1}, {'accuracy/top1': 30.0},
            {'accuracy/top1': 55.0}])
    assert tool._metrics(str(tmp_path / 'lin'), None) == {
        'accuracy/top1': 55.0}
    assert tool._metrics(str(tmp_path / 'knn'), ['knn/top5_k20']) == {
        'knn/top5_k20': 90.0}
    with pytest.raises(RuntimeError, match='no metric logged'):
        tool._metrics(str(tmp_path / 'knn'), ['accuracy/top1'])


def test_record_names_the_pretraining_and_the_random_init(tmp_path):
    import argparse

    from mmvitplug.utils.zoo import load_results
    args = argparse.Namespace(
        pretrain_config='configs/bundled/dino/dino-deit-4l64d-p8_1xb64_digits'
        '.py',
        eval_configs=['configs/bundled/dino/knn-deit-4l64d-p8_1xb128_digits'
                      '.py'],
        record='dino', results_root=str(tmp_path))
    results = {
        ('knn-deit-4l64d-p8_1xb128_digits', 'knn/top1_k20', 0): (49.3, 31.2),
        ('knn-deit-4l64d-p8_1xb128_digits', 'knn/top1_k20', 1): (50.7, 29.3),
    }
    _tool().record(args, results)
    got = load_results('dino', root=str(tmp_path))
    assert got['dino-deit-4l64d-p8_1xb64_digits']['knn/top1_k20'][
        'values'] == {0: 49.3, 1: 50.7}
    assert got['dino/knn-deit-4l64d-p8_1xb128_digits@random-init'][
        'knn/top1_k20']['values'] == {0: 31.2, 1: 29.3}
