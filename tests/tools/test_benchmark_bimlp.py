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


def _results(size, b_ops, f_ops, b_bits, f_bits):
    """A result of main for one arch (hand-made: counts in multiply-adds,
    bits)."""
    b = dict(bops=64 * (b_ops - 1e5), flops=1e5, ops=b_ops, bits=b_bits)
    f = dict(bops=0, flops=f_ops, ops=f_ops, bits=f_bits)
    return dict(binary=b, fp=f, size=size,
                ratios=dict(ops=b_ops / f_ops, flops=1e5 / f_ops,
                            bits=b_bits / f_bits, binary_share=0.5))


def test_record_writes_the_reductions_per_arch(tmp_path, monkeypatch):
    """--record: twin / binary OPs and size under <arch>@<arch>-fp, the
    digits arch under its configs' names."""
    from mmvitplug.utils.zoo import load_results
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_bimlp.py')
    args = tool.parse_args(['--archs', 'digits', 'bimlp-s', '--record',
                            'bimlp', '--results-root', str(tmp_path)])
    mb = 8 * 2**20
    results = {
        'digits': _results(32, 0.266e6, 1.270e6, 0.242 * mb, 1.468 * mb),
        'bimlp-s': _results(224, 155.0e6, 2361.8e6, 6.16 * mb, 60.43 * mb),
    }
    tool.record(args, results)
    got = load_results('bimlp', root=str(tmp_path))
    assert set(got) == {'bimlp-7l16d-p4@bimlp-fp-7l16d-p4',
                        'bimlp-s@bimlp-s-fp'}
    digits = got['bimlp-7l16d-p4@bimlp-fp-7l16d-p4']
    small = got['bimlp-s@bimlp-s-fp']
    assert set(digits) == set(small) == {'ops/reduction', 'size/reduction'}
    assert digits['ops/reduction']['value'] == 4.77  # 1.270 / 0.266
    assert digits['size/reduction']['value'] == 6.07  # 1.468 / 0.242
    assert small['ops/reduction']['value'] == 15.2
    assert small['size/reduction']['value'] == 9.81
    for record in (*digits.values(), *small.values()):
        assert record['tool'] == 'tools/analysis/benchmark_bimlp.py'
        assert 'transcribed' not in record
    assert '224 px' in small['ops/reduction']['note']
    assert 'OPs = BOPs / 64 + FLOPs' in small['ops/reduction']['note']
    assert '6.160 vs 60.430 MB' in small['size/reduction']['note']
    assert 'digits arch, 32 px' in digits['size/reduction']['note']


def test_record_from_main_on_digits(tmp_path, monkeypatch):
    """main --record writes what it printed (the digits arch counts in
    seconds)."""
    from mmvitplug.utils.zoo import load_results
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    tool = load_tool('analysis/benchmark_bimlp.py')
    results = tool.main(['--archs', 'digits', '--record', 'bimlp',
                         '--results-root', str(tmp_path)])['digits']
    got = load_results('bimlp', root=str(tmp_path))
    record = got['bimlp-7l16d-p4@bimlp-fp-7l16d-p4']
    assert record['ops/reduction']['value'] == float(
        f'{1 / results["ratios"]["ops"]:.3g}')
    assert record['size/reduction']['value'] == float(
        f'{1 / results["ratios"]["bits"]:.3g}')
