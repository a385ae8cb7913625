# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_revcol.py --record: the paired ratios under
``<arch>-reversible@<arch>-plain``, 224 px without a size suffix (no
measurement)."""
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool


def test_record_writes_the_ratios_per_size(tmp_path, monkeypatch):
    from mmvitplug.utils.zoo import load_results
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_revcol.py')
    args = tool.parse_args([
        '--arch', 'revcol-t', '--sizes', '224', '448', '--batch', '4',
        '--threads', '2', '--record', 'revcol', '--results-root',
        str(tmp_path)
    ])
    # size -> medians [img/s, MiB] of both and the paired ratios
    by_size = {
        224: dict(reversible=[3.1, 229.4], plain=[4.1, 690.2],
                  ratios=[0.7561, 0.33249]),
        448: dict(reversible=[0.8, 900.0], plain=[1.0, 2700.0],
                  ratios=[0.8, 0.3333]),
    }
    tool.record(args, by_size)
    got = load_results('revcol', root=str(tmp_path))
    assert list(got) == ['revcol-t-reversible@revcol-t-plain']
    metrics = got['revcol-t-reversible@revcol-t-plain']
    assert {k: v['value'] for k, v in metrics.items()} == {
        'speed/train': pytest.approx(0.756),
        'speed/train_memory': pytest.approx(0.332),
        'speed/train_448px': pytest.approx(0.8),
        'speed/train_memory_448px': pytest.approx(0.333),
    }
    for record in metrics.values():
        assert record['tool'] == 'tools/analysis/benchmark_revcol.py'
        assert 'transcribed' not in record
        assert 'batch 4' in record['note'] and '2 threads' in record['note']
    assert metrics['speed/train_memory']['note'].endswith(
        '224 px, batch 4, drop path 0.1, cpu, 2 threads, 3 paired rounds; '
        '229 vs 690 MiB')
    assert '448 px' in metrics['speed/train_448px']['note']
