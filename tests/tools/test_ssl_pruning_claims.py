# Copyright (c) mmvitplug contributors.
"""tools/analysis/ssl_pruning_claims.py: the sparsities read from the masks
and from the exported backbone (by hand), which runs it makes and what it
prints (the training runs themselves: test_e2e_ssl_pruning.py)."""
import pytest
import torch

from _builders import load_tool


@pytest.fixture
def tool():
    return load_tool('analysis/ssl_pruning_claims.py')


def test_sparsities_by_hand(tool, tmp_path):
    masks = {
        'backbone.a': torch.tensor([[True, False], [False, False]]),
        'backbone.b': torch.tensor([True, True, False, True]),
    }
    weights = {
        'backbone.a': torch.tensor([[1., 0.], [0., 0.]]),
        # a kept weight that is zero by chance; a pruned one that is not
        'backbone.b': torch.tensor([0., 2., 5., 3.]),
        'backbone.norm': torch.ones(3),
    }
    torch.save(dict(masks=masks, sparsity=0.5, round=1), tmp_path / 'm.pth')
    torch.save(dict(state_dict=weights), tmp_path / 'b.pth')
    s = tool.sparsities(str(tmp_path / 'm.pth'), str(tmp_path / 'b.pth'))
    assert s == dict(target=0.5, masks=4 / 8, exported=4 / 8,
                     pruned_zero=3 / 4, count=4, total=8)
    del weights['backbone.b']
    torch.save(dict(state_dict=weights), tmp_path / 'b.pth')
    with pytest.raises(KeyError, match='backbone.b'):
        tool.sparsities(str(tmp_path / 'm.pth'), str(tmp_path / 'b.pth'))


def test_runs_and_table(tool, monkeypatch, capsys):
    calls = []

    def run_one(config, knn, work_dir, seed, retrain, options):
        calls.append((config, knn, work_dir, seed, tuple(options)))
        top1 = {('p', 0): 70., ('r', 0): 72., ('p', 1): 80., ('r', 1): 74.}
        return dict(
            sparsity=dict(target=0.8, masks=0.8, exported=0.8,
                          pruned_zero=1.0, count=8, total=10),
            metrics={'knn/top1_k10': top1[(config, seed)]})

    monkeypatch.setattr(tool, 'run_one', run_one)
    results = tool.main(['p', 'r', 'knn', '--seeds', '0', '1', '--work-dir',
                         'w', '--cfg-options', 'custom_hooks.1.sparsity=0.9'])
    assert [c[0] for c in calls] == ['p', 'r', 'p', 'r']
    assert calls[1] == ('r', 'knn', 'w/seed0/random', 0,
                        ('custom_hooks.1.sparsity=0.9', ))
    assert len(results) == 4
    out = capsys.readouterr().out
    assert 'seed 0: -2.00 seed 1: +6.00; mean 75.00 vs 73.00 (+2.00)' in out
