# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_distill.py --record writes its two ratios (the
speed cost of a distillation step over its floor, and the memory ratio) to
the model zoo's results under ``<model>@floor``."""
import argparse
import os.path as osp

import pytest

from mmvitplug.utils.zoo import load_results
from _builders import REPO_ROOT, load_tool

CONFIG = 'configs/bundled/deit/distill-hard-deit-4l192d-p8_1xb16_digits.py'
SUBJECT = 'distill-hard-deit-4l192d-p8_1xb16_digits@floor'
TOOL = 'tools/analysis/benchmark_distill.py'


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    monkeypatch.chdir(REPO_ROOT)
    return load_tool('analysis/benchmark_distill.py')


def _args(tmp_path, **kwargs):
    args = dict(config=CONFIG, teacher_ckpt=None, batch=16, img_size=32,
                repeats=20, warmup=2, threads=2, device='cpu',
                record='deit', results_root=str(tmp_path))
    args.update(kwargs)
    return argparse.Namespace(**args)


def test_record_writes_cost_and_memory_under_floor(tool, tmp_path):
    tool.record(_args(tmp_path), 1.01449, 1.0751)
    got = load_results('deit', root=str(tmp_path))
    assert set(got) == {SUBJECT}
    assert set(got[SUBJECT]) == {'cost/step', 'cost/step_memory'}
    assert got[SUBJECT]['cost/step']['value'] == 1.014
    assert got[SUBJECT]['cost/step_memory']['value'] == 1.075
    for record in got[SUBJECT].values():
        assert record['tool'] == TOOL
        assert 'transcribed' not in record and 'range' not in record
        for part in ('cpu', 'batch 16', '32 px', '2 threads',
                     '20 paired rounds', 'random teacher'):
            assert part in record['note']
    assert 'floor / distill' in got[SUBJECT]['cost/step']['note']
    assert 'distill / floor' in got[SUBJECT]['cost/step_memory']['note']


def test_record_replaces_a_transcribed_range(tool, tmp_path):
    from mmvitplug.utils.zoo import record_result
    record_result('deit', SUBJECT, 'cost/step_memory', range=[1.07, 1.08],
                  tool=TOOL, transcribed='README', root=str(tmp_path))
    tool.record(_args(tmp_path, teacher_ckpt='work_dirs/t/teacher.pth'),
                1.2, 1.09)
    record = load_results('deit', root=str(tmp_path))[SUBJECT][
        'cost/step_memory']
    assert record['value'] == 1.09
    assert 'range' not in record and 'transcribed' not in record
    assert 'teacher teacher.pth' in record['note']


def test_main_records_the_printed_ratios(tool, tmp_path, monkeypatch,
                                         capsys):
    import torch.nn as nn

    class Fake(nn.Module):

        def __init__(self):
            super().__init__()
            self.head = nn.Linear(1, 1)
            self.head.num_classes = 10

    monkeypatch.setattr(tool, 'setup_process', lambda device, threads: None)
    monkeypatch.setattr(tool, 'build', lambda config, ckpt: Fake())
    # (img/s, MiB) per round: floor / distill speed 1.25, 1.5, 1.5 -> 1.5;
    # floor / distill memory 0.8, 0.8, 0.5 -> 0.8 (distill / floor 1.25)
    monkeypatch.setattr(
        tool, 'interleaved', lambda steps, repeats, warmup: dict(
            distill=[(100., 50.), (100., 50.), (100., 80.)],
            floor=[(125., 40.), (150., 40.), (150., 40.)]))
    tool.main([CONFIG, '--img-size', '32', '--repeats', '3', '--record',
               'deit', '--results-root', str(tmp_path)])
    assert '1.500x; memory distill / floor: 1.250x' in capsys.readouterr().out
    got = load_results('deit', root=str(tmp_path))[SUBJECT]
    assert got['cost/step']['value'] == 1.5
    assert got['cost/step_memory']['value'] == 1.25
    assert '3 paired rounds' in got['cost/step']['note']
