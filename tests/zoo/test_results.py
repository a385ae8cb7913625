# Copyright (c) mmvitplug contributors.
"""mmvitplug.utils.zoo.record_result / load_results: what the tools write
to docs/zoo/results/."""
import pytest
import yaml

from mmvitplug.utils import zoo


def read(root, family):
    return yaml.safe_load(
        (root / 'docs' / 'zoo' / 'results' / f'{family}.yml').read_text())


def test_per_seed_values_accumulate_for_one_tool(tmp_path):
    zoo.record_result('deit', 'm', 'accuracy/top1', values={1: 80.0},
                      tool='tools/train.py', root=str(tmp_path))
    rec = zoo.record_result('deit', 'm', 'accuracy/top1', values={0: 70},
                            tool='tools/train.py', note='15 epochs',
                            root=str(tmp_path))
    assert rec['values'] == {0: 70.0, 1: 80.0}
    saved = read(tmp_path, 'deit')['m']['accuracy/top1']
    assert saved['values'] == {0: 70.0, 1: 80.0}
    assert saved['tool'] == 'tools/train.py' and saved['note'] == '15 epochs'
    assert zoo.result_numbers(saved) == [70.0, 80.0]


def test_another_source_replaces_instead_of_mixing(tmp_path):
    """A zoo run's seed 0 must not sit next to a transcribed seed 1."""
    zoo.record_result('deit', 'm', 'accuracy/top1', values={0: 1, 1: 2},
                      tool='tools/train.py', transcribed='README',
                      root=str(tmp_path))
    rec = zoo.record_result('deit', 'm', 'accuracy/top1', values={0: 9},
                            tool='tools/zoo/run_zoo.py', root=str(tmp_path))
    assert rec['values'] == {0: 9.0}
    assert 'transcribed' not in rec
    rec = zoo.record_result('deit', 'm', 'accuracy/top1', value=3.5,
                            tool='tools/zoo/run_zoo.py', root=str(tmp_path))
    assert rec['value'] == 3.5 and 'values' not in rec


def test_exactly_one_kind_and_valid_ranges(tmp_path):
    kw = dict(tool='t', root=str(tmp_path))
    with pytest.raises(ValueError, match='exactly one of value, values'):
        zoo.record_result('f', 's', 'm', **kw)
    with pytest.raises(ValueError, match='exactly one'):
        zoo.record_result('f', 's', 'm', value=1, range=[0, 2], **kw)
    with pytest.raises(ValueError, match=r'\[low, high\]'):
        zoo.record_result('f', 's', 'm', range=[2, 1], **kw)
    rec = zoo.record_result('f', 's', 'm', range=[0.9, 1.2], **kw)
    assert zoo.result_numbers(rec) == [0.9, 1.2]


def test_a_subject_in_two_families_is_an_error(tmp_path):
    zoo.record_result('a', 's', 'm', value=1, tool='t', root=str(tmp_path))
    zoo.record_result('b', 't', 'm', value=1, tool='t', root=str(tmp_path))
    assert set(zoo.load_results(root=str(tmp_path))) == {'s', 't'}
    assert set(zoo.load_results('a', root=str(tmp_path))) == {'s'}
    zoo.record_result('b', 's', 'm', value=2, tool='t', root=str(tmp_path))
    with pytest.raises(ValueError, match="'s' is recorded in two"):
        zoo.load_results(root=str(tmp_path))


def test_device_tag_names_the_gpu(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'get_device_name',
                        lambda device=None: 'NVIDIA H200')
    assert zoo.device_tag('cpu') == ''
    assert zoo.device_tag(torch.device('cpu')) == ''
    assert zoo.device_tag(torch.device('cuda', 0)) == '_h200'
    assert zoo.device_tag('cuda') == '_h200'


@pytest.mark.parametrize('subject, argv, record', [
    (False, ['--record', 'deit'], 'deit'),
    (True, ['--record', 'deit', 'a@b'], ['deit', 'a@b']),
])
def test_add_record_arguments(subject, argv, record):
    import argparse
    parser = argparse.ArgumentParser()
    zoo.add_record_arguments(parser, 'the ratios', subject=subject)
    assert parser.parse_args([]).record is None
    assert parser.parse_args([]).results_root is None
    args = parser.parse_args(argv + ['--results-root', '/x'])
    assert args.record == record and args.results_root == '/x'
    assert 'write the ratios to the model zoo' in parser.format_help()
    assert '--results-root' not in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(argv[:-1] if subject else argv + ['extra'])
