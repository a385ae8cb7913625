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
