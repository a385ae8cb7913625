# Copyright (c) mmvitplug contributors.
"""End to end: a convnet teacher, then a DeiT distilled from it (digits).

Both runs are plain ``tools/train.py`` subprocesses on the bundled digits:
the teacher with its config's schedule, the student for the first 8 of its
15 epochs (about 80% top-1 there, 89% at the end); the student is then
resumed for one more epoch, which needs only the student checkpoint and the
teacher file.
"""
import os.path as osp

import pytest

from _e2e import logged, train

TEACHER_CFG = 'configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py'
STUDENT_CFG = ('configs/bundled/deit/'
               'distill-hard-deit-4l192d-p8_1xb16_digits.py')


def last_checkpoint(work_dir):
    with open(osp.join(str(work_dir), 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.mark.e2e
def test_teacher_then_distilled_student(bundled_digits, tmp_path, repo_root,
                                        subprocess_env):

    def run(config, work_dir, *args):
        return train(repo_root, config, work_dir, *args, env=subprocess_env)

    teacher_dir = tmp_path / 'teacher'
    run(TEACHER_CFG, teacher_dir)
    teacher_top1 = logged(teacher_dir, 'accuracy/top1')[-1]
    assert teacher_top1 > 90, teacher_top1  # chance is 10

    student_dir = tmp_path / 'student'
    teacher_ckpt = last_checkpoint(teacher_dir)
    run(STUDENT_CFG, student_dir, '--cfg-options',
        f'model.teacher_ckpt={teacher_ckpt}', 'train_cfg.max_epochs=8')
    student_top1 = logged(student_dir, 'accuracy/top1')
    assert student_top1[-1] > 50, student_top1
    distill_losses = logged(student_dir, 'loss_distill')
    assert distill_losses[-1] < distill_losses[0], distill_losses

    # resume one more epoch: the checkpoint has no teacher, it is reloaded
    # from teacher_ckpt, and nothing is reported missing
    epochs = len(student_top1)
    out = run(STUDENT_CFG, student_dir, '--resume', '--cfg-options',
              f'model.teacher_ckpt={teacher_ckpt}',
              f'train_cfg.max_epochs={epochs + 1}')
    assert f'resumed epoch: {epochs}' in out
    assert 'missing keys' not in out
    assert len(logged(student_dir, 'accuracy/top1')) == epochs + 1
