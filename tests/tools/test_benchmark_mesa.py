# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_mesa.py: its autocast mode and gradient error."""
import copy
import os.path as osp

import pytest
import torch

from _builders import REPO_ROOT, load_tool


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    return load_tool('analysis/benchmark_mesa.py')


def test_autocast_wrapper_runs_low_precision_inside(tool):
    seen = []
    model = torch.nn.Linear(4, 3)
    model.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = tool.Autocast(model, torch.bfloat16)(torch.randn(2, 4))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32


def test_grad_error_is_relative_to_the_reference(tool):
    torch.manual_seed(0)
    ref = torch.nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8, ))
    assert tool.grad_error(copy.deepcopy(ref), ref, x, y) == 0
    other = copy.deepcopy(ref)
    with torch.no_grad():
        other.weight.mul_(2)
    assert tool.grad_error(other, ref, x, y) > 0.01
    assert ref.weight.grad is None  # gradients are cleared


def test_float16_needs_cuda(tool):
    with pytest.raises(SystemExit):
        tool.parse_args(['--amp', 'float16', '--device', 'cpu'])
    assert tool.parse_args(['--amp', 'bfloat16']).amp == 'bfloat16'


def test_record_writes_the_mesa_ratios(tool, tmp_path):
    """--record: the mesa row's ratios to fp32 under mesa-<arch>@<arch>,
    the metric names suffixed with the autocast."""
    import argparse

    from mmvitplug.utils.zoo import load_results

    def row(saved, saved_r, peak, peak_r, speed, speed_r):
        return (saved, saved_r, peak, peak_r, speed, speed_r, 0.)

    results = {
        'deit-tiny': {
            'fp32': row(100., 1., 300., 1., 20., 1.),
            'fp32-explicit': row(140., 1.4, 380., 1.27, 18., 0.9),
            'mesa': row(35.81, 0.35812, 126.6, 0.42219, 9.123, 0.45612),
        },
    }
    args = argparse.Namespace(batch=8, img_size=224, threads=2, repeats=3,
                              amp=None, record='mesa',
                              results_root=str(tmp_path))
    tool.record(args, results, 'cpu')
    args.amp = 'bfloat16'
    tool.record(args, results, 'cpu')
    got = load_results('mesa', root=str(tmp_path))
    assert set(got) == {'mesa-deit-tiny@deit-tiny'}
    tiny = got['mesa-deit-tiny@deit-tiny']
    assert set(tiny) == {
        'memory/saved_for_backward', 'speed/train_memory', 'speed/train',
        'memory/saved_for_backward_bf16', 'speed/train_memory_bf16',
        'speed/train_bf16'
    }
    assert tiny['memory/saved_for_backward']['value'] == 0.358
    assert tiny['speed/train_memory']['value'] == 0.422
    assert tiny['speed/train']['value'] == 0.456
    for record in tiny.values():
        assert record['tool'] == 'tools/analysis/benchmark_mesa.py'
        assert 'transcribed' not in record
        assert 'cpu, batch 8, 224 px, 2 thread(s)' in record['note']
    assert '100 -> 35.81 MiB' in tiny['memory/saved_for_backward']['note']
    assert 'autocast None' in tiny['speed/train']['note']
    assert 'autocast bfloat16' in tiny['speed/train_bf16']['note']


def test_record_metric_suffix_names_autocast_and_gpu(tool, monkeypatch):
    monkeypatch.setattr(tool.torch.cuda, 'get_device_name',
                        lambda device=None: 'NVIDIA H200')
    assert tool.metric_suffix(None, 'cpu') == ''
    assert tool.metric_suffix('bfloat16', 'cpu') == '_bf16'
    assert tool.metric_suffix(None, 'cuda') == '_h200'
    assert tool.metric_suffix('float16', 'cuda') == '_fp16_h200'
