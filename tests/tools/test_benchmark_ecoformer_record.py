# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_ecoformer.py --record writes the EcoFormer /
softmax ratios per token count to the model zoo's results (a hand-made
table, no measurement)."""
import argparse
import os.path as osp

import pytest

from mmvitplug.utils.zoo import load_results
from _builders import REPO_ROOT, load_tool


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    return load_tool('analysis/benchmark_ecoformer.py')


def test_record_writes_the_ratios_per_token_count(tool, tmp_path):
    # fwd ms, ratio, train ms, ratio, saved MiB, ratio, peak MiB, ratio
    results = {
        197: {
            'softmax': (10., 1., 30., 1., 20., 1., 40., 1.),
            'softmax-fused': (8., .8, 25., .83, 12., .6, 30., .75),
            'ecoformer': (8.1, 0.81234, 24.9, 0.83, 21., 1.0512, 32.4,
                          0.8104),
        },
        3137: {
            'softmax': (1000., 1., 3000., 1., 2000., 1., 4000., 1.),
            'softmax-fused': (900., .9, 2500., .83, 100., .05, 300., .075),
            'ecoformer': (130., 0.13049, 450., 0.15, 300., 0.15, 252.,
                          0.063),
        },
    }
    args = argparse.Namespace(
        arch='deit-small', batch=4, threads=1, repeats=3, nbits=16,
        num_anchors=25,
        record=['ecoformer', 'ecoformer-attention@softmax-attention'],
        results_root=str(tmp_path))
    tool.record(args, results, 'cpu', 'thread CPU')
    got = load_results('ecoformer', root=str(tmp_path))
    assert set(got) == {'ecoformer-attention@softmax-attention'}
    attention = got['ecoformer-attention@softmax-attention']
    assert set(attention) == {
        f'{kind}_{n}tok'
        for kind in ('time/forward', 'time/train_step',
                     'memory/saved_for_backward', 'memory/train_peak')
        for n in (197, 3137)
    }
    assert attention['time/forward_197tok']['value'] == 0.812
    assert attention['time/train_step_197tok']['value'] == 0.83
    assert attention['memory/saved_for_backward_197tok']['value'] == 1.05
    assert attention['memory/train_peak_197tok']['value'] == 0.81
    assert attention['time/forward_3137tok']['value'] == 0.13
    assert attention['memory/train_peak_3137tok']['value'] == 0.063
    for record in attention.values():
        assert record['tool'] == 'tools/analysis/benchmark_ecoformer.py'
        assert 'transcribed' not in record
        assert record['note'].startswith(
            'one deit-small attention layer (projections included), cpu, '
            'batch 4, 1 thread(s), thread CPU time, 3 paired rounds')
    assert 'at 3137 tokens (1000 -> 130 ms)' in attention[
        'time/forward_3137tok']['note']


def test_record_metrics_name_the_gpu_on_cuda(tool, tmp_path, monkeypatch):
    monkeypatch.setattr(tool.torch.cuda, 'get_device_name',
                        lambda device=None: 'NVIDIA H200')
    eco = (1., .5, 1., .5, 1., .5, 1., .5)
    args = argparse.Namespace(
        arch='deit-small', batch=4, threads=1, repeats=3, nbits=16,
        num_anchors=25, record=['ecoformer', 'a@b'],
        results_root=str(tmp_path))
    tool.record(args, {197: {'softmax': eco, 'ecoformer': eco}}, 'cuda',
                'wall')
    got = load_results('ecoformer', root=str(tmp_path))['a@b']
    assert set(got) == {
        'time_h200/forward_197tok', 'time_h200/train_step_197tok',
        'memory_h200/saved_for_backward_197tok',
        'memory_h200/train_peak_197tok'
    }
    assert ', NVIDIA H200, ' in got['time_h200/forward_197tok']['note']


def test_record_option_takes_family_and_subject(tool):
    args = tool.parse_args(['--record', 'ecoformer', 'a@b',
                            '--results-root', '/x'])
    assert args.record == ['ecoformer', 'a@b']
    assert args.results_root == '/x'
    assert tool.parse_args([]).record is None
