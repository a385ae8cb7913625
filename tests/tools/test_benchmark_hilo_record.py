# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_hilo.py --record: the paired ratios of each grid
under ``speed/<kind>_<side>x<side>`` of the subject given (no measurement)."""
import argparse
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool


def test_record_writes_each_grid_ratios(tmp_path, monkeypatch):
    from mmvitplug.utils.zoo import load_results
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_hilo.py')
    args = tool.parse_args([
        '--grids', '14', '28', '--batch', '4', '--threads', '2', '--record',
        'litv2', 'hilo@msa:litv2-s-stage3', '--results-root', str(tmp_path)
    ])
    assert isinstance(args, argparse.Namespace)
    tool.record(args, {14: [1.18234, 1.2749, 0.95123],
                       28: [1.8449, 1.28, 0.9071]})
    got = load_results('litv2', root=str(tmp_path))
    assert list(got) == ['hilo@msa:litv2-s-stage3']
    metrics = got['hilo@msa:litv2-s-stage3']
    assert set(metrics) == {
        f'speed/{kind}_{side}x{side}'
        for kind in ('infer', 'train', 'train_memory') for side in (14, 28)
    }
    assert metrics['speed/infer_14x14']['value'] == pytest.approx(1.18)
    assert metrics['speed/train_14x14']['value'] == pytest.approx(1.27)
    assert metrics['speed/train_memory_14x14']['value'] == pytest.approx(
        0.951)
    assert metrics['speed/infer_28x28']['value'] == pytest.approx(1.84)
    assert metrics['speed/train_memory_28x28']['value'] == pytest.approx(
        0.907)
    for record in metrics.values():
        assert record['tool'] == 'tools/analysis/benchmark_hilo.py'
        assert 'transcribed' not in record
    note = metrics['speed/train_28x28']['note']
    assert '28x28 grid' in note and 'batch 4' in note
    assert '2 threads' in note and 'cpu' in note
