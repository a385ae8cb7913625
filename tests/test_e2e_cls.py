# Copyright (c) mmvitplug contributors.
"""End to end: a convnet teacher, then a DeiT distilled from it (digits).

Both runs are plain ``tools/train.py`` subprocesses on the bundled digits:
the teacher with its config's schedule, the student for the first 8 of its
15 epochs (about 80% top-1 there, 89% at the end); the student is then
resumed for one more epoch, which needs only the student checkpoint and the
teacher file.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEACHER_CFG = 'configs/deit/sup-resnet18_1xb64_digits.py'
STUDENT_CFG = 'configs/deit/distill-hard-deit-tiny_1xb16_digits.py'


def train(config, work_dir, *extra):
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir',
           str(work_dir), *extra]
    # one thread per process: the data workers share the cores
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get(
        'OMP_NUM_THREADS', '1'))
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    return result.stdout + result.stderr


def logged(work_dir, key):
    """Every logged value of ``key`` in the run's scalars.json files."""
    values = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            values += [r[key] for r in map(json.loads, f) if key in r]
    assert values, f'no {key} logged under {work_dir}'
    return values


def last_checkpoint(work_dir):
    with open(osp.join(str(work_dir), 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.fixture(scope='module')
def digits():
    from mmvitplug.datasets import make_digits
    return make_digits(osp.join(ROOT, 'data', 'bundled'))


@pytest.mark.e2e
def test_teacher_then_distilled_student(digits, tmp_path):
    teacher_dir = tmp_path / 'teacher'
    train(TEACHER_CFG, teacher_dir)
    teacher_top1 = logged(teacher_dir, 'accuracy/top1')[-1]
    assert teacher_top1 > 90, teacher_top1  # chance is 10

    student_dir = tmp_path / 'student'
    teacher_ckpt = last_checkpoint(teacher_dir)
    train(STUDENT_CFG, student_dir, '--cfg-options',
          f'model.teacher_ckpt={teacher_ckpt}', 'train_cfg.max_epochs=8')
    student_top1 = logged(student_dir, 'accuracy/top1')
    assert student_top1[-1] > 50, student_top1
    distill_losses = logged(student_dir, 'loss_distill')
    assert distill_losses[-1] < distill_losses[0], distill_losses

    # resume one more epoch: the checkpoint has no teacher, it is reloaded
    # from teacher_ckpt, and nothing is reported missing
    epochs = len(student_top1)
    out = train(STUDENT_CFG, student_dir, '--resume', '--cfg-options',
                f'model.teacher_ckpt={teacher_ckpt}',
                f'train_cfg.max_epochs={epochs + 1}')
    assert f'resumed epoch: {epochs}' in out
    assert 'missing keys' not in out
    assert len(logged(student_dir, 'accuracy/top1')) == epochs + 1
