# Copyright (c) mmvitplug contributors.
"""mmvitplug.utils.logs: reading back training and test runs' records."""
import json
import os
import os.path as osp

import pytest

from mmvitplug.utils.logs import last_logged, logged_records


def _write(path, records):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')
        f.write('\n')  # a trailing blank line is not a record


@pytest.fixture
def work_dir(tmp_path):
    # two training runs (a resumed one continues the first) and a test run
    _write(str(tmp_path / '20260101_000000' / 'vis_data' / 'scalars.json'),
           [{'loss': 2.0, 'lr': 0.1}, {'accuracy/top1': 30.0}])
    _write(str(tmp_path / '20260102_000000' / 'vis_data' / 'scalars.json'),
           [{'loss': 1.0, 'lr': 0.05}, {'accuracy/top1': 55.0}])
    _write(str(tmp_path / '20260103_000000' / '20260103_000000.json'),
           [{'knn/top1_k20': 41.0}])
    return str(tmp_path)


def test_records_come_run_after_run(work_dir):
    assert logged_records(work_dir, runs=['train']) == [
        {'loss': 2.0, 'lr': 0.1}, {'accuracy/top1': 30.0},
        {'loss': 1.0, 'lr': 0.05}, {'accuracy/top1': 55.0}]
    assert logged_records(work_dir, runs=['test']) == [{'knn/top1_k20': 41.0}]
    assert len(logged_records(work_dir)) == 5
    with pytest.raises(ValueError, match=r"unknown run kinds \['val'\]; "
                       r"valid: \['test', 'train'\]"):
        logged_records(work_dir, runs=['val'])


def test_last_logged_takes_the_last_value_of_each_key(work_dir):
    assert last_logged(work_dir, ['accuracy/top1', 'loss']) == {
        'accuracy/top1': 55.0, 'loss': 1.0}
    assert last_logged(work_dir) == {
        'loss': 1.0, 'lr': 0.05, 'accuracy/top1': 55.0, 'knn/top1_k20': 41.0}
    # a training run's records do not answer for a test run
    with pytest.raises(RuntimeError, match=r"no \['accuracy/top1'\] logged "
                       'under .*; see the run log there'):
        last_logged(work_dir, ['accuracy/top1', 'knn/top1_k20'],
                    runs=['test'])


def test_nothing_logged_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match='nothing logged under'):
        last_logged(str(tmp_path))
