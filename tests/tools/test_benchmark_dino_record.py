# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_dino.py --record: the step-time ratio official /
ours as ``speed/train`` of the subject given (no measurement, no official
code needed)."""
import pytest

from _builders import load_tool


def test_record_writes_the_step_time_ratio(tmp_path):
    from mmvitplug.utils.zoo import load_results
    tool = load_tool('analysis/benchmark_dino.py')
    subject = 'dino-deit-small@official:facebookresearch/dino'
    args = tool.parse_args(['--batch', '4', '--repeats', '3', '--record',
                            'dino', subject, '--results-root', str(tmp_path)])
    results = dict(loss_official=8.3, loss_ours=8.3, ratio=1.0526,
                   official_s=2.0, ours_s=1.9, threads=2)
    tool.record(args, results)
    got = load_results('dino', root=str(tmp_path))
    assert list(got) == [subject]
    assert list(got[subject]) == ['speed/train']
    record = got[subject]['speed/train']
    assert record['value'] == pytest.approx(1.05)
    assert record['tool'] == 'tools/analysis/benchmark_dino.py'
    assert 'transcribed' not in record
    note = record['note']
    assert '2x128 + 4x64 crops, batch 4, K=4096' in note
    assert 'cpu, 2 threads, median of 3' in note
    assert note.endswith('2.000 vs 1.900 s/step')
