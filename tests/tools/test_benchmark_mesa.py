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
