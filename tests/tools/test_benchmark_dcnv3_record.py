# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_dcnv3.py --record: the range over the levels of
each ratio ours / reference under the subject given (no measurement)."""
import os.path as osp

from _builders import REPO_ROOT, load_tool


def test_record_writes_the_range_over_levels(tmp_path, monkeypatch):
    from mmvitplug.utils.zoo import load_results
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_dcnv3.py')
    args = tool.parse_args([
        '--arch', 'internimage-t', '--reference-module', 'ref.py',
        '--batch', '8', '--repeats', '5', '--record', 'internimage',
        'dcnv3@official:dcnv3_core_pytorch', '--results-root', str(tmp_path)
    ])
    # level -> pass -> [speed ratio, memory ratio], as main builds it
    results = {
        0: {'diff': 1e-5, 'forward': [1.081, 0.874], 'fwd+bwd': [1.02, 1.0]},
        1: {'diff': 2e-5, 'forward': [1.2449, 0.91], 'fwd+bwd': [1.15, 0.97]},
        2: {'diff': 0.0, 'forward': [1.1, 0.9], 'fwd+bwd': [1.1, 0.99]},
    }
    tool.record(args, results)
    got = load_results('internimage', root=str(tmp_path))
    assert list(got) == ['dcnv3@official:dcnv3_core_pytorch']
    metrics = got['dcnv3@official:dcnv3_core_pytorch']
    assert {k: v['range'] for k, v in metrics.items()} == {
        'speed/infer': [1.08, 1.24],
        'speed/infer_memory': [0.874, 0.91],
        'speed/train': [1.02, 1.15],
        'speed/train_memory': [0.97, 1.0],
    }
    for record in metrics.values():
        assert record['tool'] == 'tools/analysis/benchmark_dcnv3.py'
        assert 'value' not in record and 'transcribed' not in record
        note = record['note']
        assert 'internimage-t at 224' in note and 'batch 8' in note
        assert '3 levels' in note and '5 paired rounds' in note
        assert 'max difference 2.0e-05' in note
    assert metrics['speed/train_memory']['note'].endswith(
        'memory with backward')
