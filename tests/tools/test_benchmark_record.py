# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark.py --record writes its paired ratios to the
model zoo's results (what the README's speed column shows)."""
import os
import subprocess
import sys

import pytest

from mmvitplug.utils import zoo
from _builders import REPO_ROOT


@pytest.mark.e2e
def test_benchmark_records_its_ratios(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    out = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', '--arch', 'deit-tiny',
         '--timm', 'deit_tiny_patch16_224', '--img-size', '224',
         '--batch-size', '1', '--train-batch-size', '1', '--repeats', '2',
         '--warmup', '0', '--threads', '1', '--record', 'deit',
         'deit-tiny@timm:test', '--results-root', str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    ratios = out.stdout.strip().splitlines()[-2].split()[-3:]
    recorded = zoo.load_results('deit', root=str(tmp_path))
    record = recorded['deit-tiny@timm:test']
    for metric, printed in zip(
            ('speed/infer', 'speed/train', 'speed/train_memory'), ratios):
        assert record[metric]['value'] == pytest.approx(float(printed),
                                                        abs=1e-3)
        assert record[metric]['tool'] == 'tools/analysis/benchmark.py'
        assert '224 px' in record[metric]['note']
