# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_dynamic_vit.py on the 64-token digits DeiT and
ConViT, and an unknown arch."""
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    # setup_process re-executes the process on CPU unless this is set
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '65536')
    return load_tool('analysis/benchmark_dynamic_vit.py')


@pytest.mark.parametrize('name', ['digits-p4', 'digits-convit-p4'])
def test_digits_p4_row(tool, capsys, name):
    tool.main(['--archs', name, '--batch', '2', '--repeats', '1',
               '--warmup', '0', '--device', 'cpu'])
    row = capsys.readouterr().out.strip().splitlines()[-1]
    arch, tokens, *rest = row.split()
    assert (arch, tokens) == (name, '64')
    # floor(64 * 0.7^l), l = 1, 2, 3, as the official int()
    assert ' '.join(rest[:3]) == '[44, 31, 21]'
    flops, pruned, ratio = map(float, rest[3:6])
    assert pruned < flops and ratio == pytest.approx(pruned / flops, abs=2e-3)
    # the same weights through the same first blocks: FLOPs ratio between
    # the kept fractions' bounds
    assert 21 / 64 < ratio < 1


def test_unknown_arch(tool):
    with pytest.raises(SystemExit, match="unknown arch 'deit-huge'.*"
                       "'digits-convit-p4'.*'cait-xxs24'"):
        tool.family_of('deit-huge')


def test_record_writes_each_arch_ratios(tool, tmp_path):
    """--record: flops/ratio and speed/infer per arch under
    dynamicvit-<name>@<name>, the digits models by their layout."""
    import argparse

    from mmvitplug.utils.zoo import load_results
    args = argparse.Namespace(
        keep_ratio=0.7, batch=16, threads=1, repeats=5, record='dynamic_vit',
        results_root=str(tmp_path))
    rows = [
        ('digits', 16, [11, 7, 5], 0.03131, 0.02203, 0.70358, 900., 1107.,
         1.23456),
        ('deit-small', 196, [137, 96, 67], 4.6081, 2.9879, 0.64841, 60.,
         87.6, 1.4612),
    ]
    tool.record(args, rows, 'cpu')
    got = load_results('dynamic_vit', root=str(tmp_path))
    assert set(got) == {'dynamicvit-deit-4l192d-p8@deit-4l192d-p8',
                        'dynamicvit-deit-small@deit-small'}
    digits = got['dynamicvit-deit-4l192d-p8@deit-4l192d-p8']
    assert set(digits) == {'flops/ratio', 'speed/infer'}
    assert digits['flops/ratio']['value'] == 0.704
    assert digits['speed/infer']['value'] == 1.23
    small = got['dynamicvit-deit-small@deit-small']
    assert small['flops/ratio']['value'] == 0.648
    assert small['speed/infer']['value'] == 1.46
    for record in (*digits.values(), *small.values()):
        assert record['tool'] == 'tools/analysis/benchmark_dynamic_vit.py'
        assert 'transcribed' not in record
        assert 'cpu, batch 16, 1 thread(s), rho 0.7' in record['note']
    assert '16 tokens, 11, 7, 5 kept' in digits['flops/ratio']['note']
    assert '4.608 -> 2.988 GFLOPs' in small['flops/ratio']['note']
    assert '60 -> 87.6 img/s' in small['speed/infer']['note']


def test_record_speed_metric_names_the_gpu(tool, tmp_path, monkeypatch):
    import argparse

    from mmvitplug.utils.zoo import load_results
    monkeypatch.setattr(tool.torch.cuda, 'get_device_name',
                        lambda device=None: 'NVIDIA H200')
    args = argparse.Namespace(
        keep_ratio=0.7, batch=16, threads=1, repeats=5, record='dynamic_vit',
        results_root=str(tmp_path))
    tool.record(args, [('deit-small', 196, [137, 96, 67], 4.6, 3., 0.65,
                        60., 87.6, 1.46)], 'cuda')
    got = load_results('dynamic_vit', root=str(tmp_path))
    small = got['dynamicvit-deit-small@deit-small']
    assert set(small) == {'flops/ratio', 'speed/infer_h200'}
    assert small['speed/infer_h200']['note'].startswith('NVIDIA H200, ')
