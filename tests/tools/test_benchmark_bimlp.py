# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_bimlp.py on the bundled digits BiMLP: both
models in one run, the binary model's BOPs + FLOPs = its twin's FLOPs (the
same multiply-adds), and the twin's count = mmengine's FlopAnalyzer's
convolution + linear multiply-adds."""
import os.path as osp

import torch
from mmengine.analysis import FlopAnalyzer

from _builders import REPO_ROOT, load_tool


def test_digits_rows_and_mmengine_parity(capsys, monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_bimlp.py')
    results = tool.main(['--archs', 'digits'])['digits']
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [
        ['digits', 'binary'], ['digits', 'fp'], ['digits', 'ratios']]
    b, f = results['binary'], results['fp']
    assert f['bops'] == 0 and b['bops'] + b['flops'] == f['flops']
    assert b['ops'] == b['bops'] / 64 + b['flops']
    # the same parameters; the binary model adds one scale per channel
    assert b['binary_params'] + b['fp_params'] > f['fp_params']
    assert f['bits'] == 32 * f['fp_params']
    ratios = results['ratios']
    assert ratios['ops'] == b['ops'] / f['ops'] < 0.5
    assert ratios['bits'] == b['bits'] / f['bits'] < 0.5
    twin = tool.Classifier(tool.DIGITS, False, 10).eval()
    analyzer = FlopAnalyzer(twin, torch.randn(1, 3, 32, 32))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    ops = analyzer.by_operator()
    assert ops['conv'] + ops['linear'] == f['flops']
