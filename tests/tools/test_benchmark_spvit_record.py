# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_spvit.py --record writes each setup's FLOPs and
speed ratios to the model zoo's results (a hand-made table, no
measurement)."""
import argparse
import os.path as osp

import pytest

from mmvitplug.utils.zoo import load_results
from _builders import REPO_ROOT, load_tool


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    return load_tool('analysis/benchmark_spvit.py')


def rows():
    # name, target, full, formula, f0, f1, ratio, img/s, img/s, ratio
    return [
        ('deit-tiny', 1.0, 1.2584, 1.03712, 1.2584, 1.0431, 0.82891, 100.,
         104.5, 1.0449),
        ('spvit-finetune-deit-4l192d-p8', 0.024, 0.03126, 0.024071,
         0.03131, 0.02503, 0.79943, 900., 1080., 1.2049),
    ]


def test_record_writes_values_per_setup(tool, tmp_path):
    args = argparse.Namespace(
        archs=['deit-tiny'], configs=['x/spvit-finetune-deit-4l192d-p8_1xb16'
                                      '-4e_digits.py'], seeds=[],
        batch=32, threads=1, repeats=5, record='spvit',
        results_root=str(tmp_path))
    tool.record(args, rows(), 'cpu')
    got = load_results('spvit', root=str(tmp_path))
    assert set(got) == {'spvit-deit-tiny@deit-tiny',
                        'spvit-deit-4l192d-p8@deit-4l192d-p8'}
    tiny = got['spvit-deit-tiny@deit-tiny']
    assert set(tiny) == {'flops/gflops_formula', 'flops/ratio',
                         'speed/infer'}
    assert tiny['flops/gflops_formula']['value'] == 1.037
    assert tiny['flops/ratio']['value'] == 0.829
    assert tiny['speed/infer']['value'] == 1.04
    digits = got['spvit-deit-4l192d-p8@deit-4l192d-p8']
    assert digits['flops/gflops_formula']['value'] == 0.02407
    assert digits['flops/ratio']['value'] == 0.799
    for record in (*tiny.values(), *digits.values()):
        assert record['tool'] == 'tools/analysis/benchmark_spvit.py'
        assert 'transcribed' not in record
        assert record['note'].startswith('cpu, batch 32, 1 thread(s), 5 ')
    assert 'target 1 ' in tiny['flops/gflops_formula']['note']
    assert '1.258 -> 1.043 GFLOPs' in tiny['flops/ratio']['note']
    assert '100 -> 104.5 img/s' in tiny['speed/infer']['note']


def test_record_accumulates_the_seeds_of_configs(tool, tmp_path):
    args = argparse.Namespace(
        archs=['deit-tiny'], configs=['a/spvit-finetune-deit-4l192d-p8_x.py'],
        seeds=[1], batch=32, threads=1, repeats=5, record='spvit',
        results_root=str(tmp_path))
    tool.record(args, rows(), 'cpu')
    args.archs = []
    args.seeds = [0]
    tool.record(args, rows()[1:], 'cpu')
    got = load_results('spvit', root=str(tmp_path))
    digits = got['spvit-deit-4l192d-p8@deit-4l192d-p8']
    assert digits['flops/gflops_formula']['values'] == {0: 0.02407,
                                                        1: 0.02407}
    assert digits['speed/infer']['values'] == {0: 1.2, 1: 1.2}
    # the official archs stay single values
    assert got['spvit-deit-tiny@deit-tiny']['flops/ratio']['value'] == 0.829


def test_record_speed_metric_names_the_gpu(tool, tmp_path, monkeypatch):
    monkeypatch.setattr(tool.torch.cuda, 'get_device_name',
                        lambda device=None: 'NVIDIA H200')
    args = argparse.Namespace(
        archs=['deit-tiny'], configs=[], seeds=[], batch=32, threads=1,
        repeats=5, record='spvit', results_root=str(tmp_path))
    tool.record(args, rows()[:1], 'cuda')
    tiny = load_results('spvit', root=str(tmp_path))[
        'spvit-deit-tiny@deit-tiny']
    assert set(tiny) == {'flops/gflops_formula', 'flops/ratio',
                         'speed/infer_h200'}
    assert tiny['speed/infer_h200']['note'].startswith('NVIDIA H200, ')
    assert tool.subject_name('spvit-search-deit-4l192d-p8') == \
        'deit-4l192d-p8'
