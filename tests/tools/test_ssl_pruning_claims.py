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


def _record_args(tmp_path, cfg_options=(), suffix=None):
    import argparse
    folder = 'configs/bundled/ssl_pruning/'
    return argparse.Namespace(
        pruned_config=folder +
        'prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py',
        random_config=folder +
        'prune-random-deepcluster-regnety-5l16d-p4_1xb16_digits.py',
        knn_config=folder + 'knn-regnety-5l16d-p4_1xb128_digits.py',
        seeds=[0, 1], cfg_options=list(cfg_options), record='ssl_pruning',
        record_suffix=suffix, results_root=str(tmp_path))


def _record_results():
    def run(kept, pruned_zero, k10, k20):
        return dict(
            sparsity=dict(target=0.9, masks=1 - kept / 82912,
                          exported=1 - kept / 82912, pruned_zero=pruned_zero,
                          count=82912 - kept, total=82912),
            metrics={'knn/top1_k10': k10, 'knn/top1_k20': k20})

    return {
        (0, 'pruned'): run(8291, 1.0, 74.6123, 74.4),
        (0, 'random'): run(8291, 1.0, 84.4, 83.0),
        (1, 'pruned'): run(8291, 1.0, 75.8, 75.2),
        (1, 'random'): run(8291, 0.5, 78.8, 79.1),
    }


def test_record_subjects_metrics_and_notes(tool, tmp_path):
    from mmvitplug.utils.zoo import load_results
    args = _record_args(tmp_path, ['custom_hooks.1.sparsity=0.9'])
    tool.record(args, _record_results())
    got = load_results('ssl_pruning', root=str(tmp_path))
    pruned = 'prune-deepcluster-regnety-5l16d-p4_1xb16_digits@sparsity-0.9'
    random = ('prune-random-deepcluster-regnety-5l16d-p4_1xb16_digits'
              '@sparsity-0.9')
    assert set(got) == {pruned, random}
    for subject in got:
        assert set(got[subject]) == {
            'knn/top1_k10', 'knn/top1_k20', 'pruning/kept_fraction'
        }
        for record in got[subject].values():
            assert record['tool'] == 'tools/analysis/ssl_pruning_claims.py'
            assert 'transcribed' not in record
            assert 'custom_hooks.1.sparsity=0.9' in record['note']
    assert got[pruned]['knn/top1_k10']['values'] == {0: 74.61, 1: 75.8}
    assert got[random]['knn/top1_k20']['values'] == {0: 83.0, 1: 79.1}
    assert got[pruned]['pruning/kept_fraction']['values'] == {0: 0.1, 1: 0.1}
    note = got[pruned]['knn/top1_k10']['note']
    assert '90 % pruned' in note and '8,291 of 82,912' in note
    assert 'knn-regnety-5l16d-p4_1xb128_digits' in note
    assert 'magnitude mask' in note
    assert 'random mask' in got[random]['knn/top1_k10']['note']
    assert 'every pruned position 0' in got[pruned]['pruning/kept_fraction'][
        'note']
    assert '1.0000 / 0.5000' in got[random]['pruning/kept_fraction']['note']


def test_record_suffix(tool, tmp_path):
    args = _record_args(tmp_path)
    assert tool.record_suffix(args) == ''
    args.cfg_options = ['custom_hooks.1.sparsity=0.9', 'a.b=3']
    assert tool.record_suffix(args) == '@sparsity-0.9,b-3'
    args.record_suffix = '@x'
    assert tool.record_suffix(args) == '@x'


def test_record_replaces_the_transcription(tool, tmp_path):
    from mmvitplug.utils.zoo import load_results, record_result
    subject = 'prune-deepcluster-regnety-5l16d-p4_1xb16_digits'
    record_result('ssl_pruning', subject, 'pruning/kept_fraction', value=0.3,
                  tool='tools/analysis/ssl_pruning_claims.py',
                  transcribed='README', root=str(tmp_path))
    tool.record(_record_args(tmp_path, suffix=''), _record_results())
    record = load_results('ssl_pruning',
                          root=str(tmp_path))[subject]['pruning/kept_fraction']
    assert record['values'] == {0: 0.1, 1: 0.1}
    assert 'value' not in record and 'transcribed' not in record


def test_main_records_when_asked(tool, monkeypatch, tmp_path):
    results = _record_results()
    monkeypatch.setattr(
        tool, 'run_one',
        lambda config, knn, work_dir, seed, retrain, options: results[(
            seed, 'pruned' if '/prune-deep' in config else 'random')])
    args = _record_args(tmp_path)
    tool.main([args.pruned_config, args.random_config, args.knn_config,
               '--record', 'ssl_pruning', '--results-root', str(tmp_path)])
    from mmvitplug.utils.zoo import load_results
    got = load_results('ssl_pruning', root=str(tmp_path))
    assert got['prune-random-deepcluster-regnety-5l16d-p4_1xb16_digits'][
        'knn/top1_k10']['values'] == {0: 84.4, 1: 78.8}
