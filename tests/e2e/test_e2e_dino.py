# Copyright (c) mmvitplug contributors.
"""End to end: DINO on the bundled digits through tools/train.py and a
2-process tools/dist_train.sh.

The shipped config is shrunk with ``--cfg-options`` to a run of well under
a minute on two CPU cores: 128 training images, batch 32, 32-dim DeiT,
64 prototypes, 2 global + 2 local crops, 2 epochs (8 steps), with a teacher
temperature warm-up 0.02 -> 0.04 over the 2 epochs so that the hook's
per-epoch values show in the log. Whether pretraining helps k-NN is
measured by a script (see the README), not here.
"""
import os.path as osp
import sys

import pytest
import torch

from _e2e import logged, run_tool, train, train_records

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/dino/dino-deit-4l64d-p8_1xb64_digits.py'
EPOCHS = 2
SMALL = [
    'train_dataloader.dataset.indices=128',
    'train_dataloader.batch_size=32',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.1.num_views=[1,1,2]',
    'model.backbone.arch.embed_dims=32',
    'model.backbone.arch.feedforward_channels=64',
    'model.head.in_channels=32',
    'model.head.hid_channels=64',
    'model.head.bottleneck_channels=16',
    'model.head.out_channels=64',
    'model.loss.out_channels=64',
    f'train_cfg.max_epochs={EPOCHS}',
    'param_scheduler.0.end=1',
    'param_scheduler.1.begin=1',
    f'param_scheduler.1.end={EPOCHS}',
    f'param_scheduler.2.end={EPOCHS}',
    'custom_hooks.0.warmup_temp=0.02',
    'custom_hooks.0.temp=0.04',
    f'custom_hooks.0.warmup_epochs={EPOCHS}',
    f'default_hooks.checkpoint.interval={EPOCHS}',
    'default_hooks.logger.interval=1',
    'log_processor.window_size=1',
]


def _checkpoint_state(work_dir):
    path = osp.join(str(work_dir), f'epoch_{EPOCHS}.pth')
    return torch.load(path, map_location='cpu', weights_only=False)[
        'state_dict']


def test_dino_trains_on_digits(bundled_digits, tmp_path, repo_root,
                               subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options', *SMALL,
          env=subprocess_env)
    records = train_records(tmp_path)
    assert len(records) == EPOCHS * 4
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records)
    # the teacher temperature of each epoch (linspace(0.02, 0.04, 2))
    temps = sorted(set(round(t, 6) for t in logged(tmp_path,
                                                   'teacher_temp')))
    assert temps == [0.02, 0.04]
    entropy = logged(tmp_path, 'teacher_entropy')
    assert all(0 < h < torch.log(torch.tensor(64.)).item() for h in entropy)
    assert all(n >= 1 for n in logged(tmp_path, 'prototypes_used'))
    state = _checkpoint_state(tmp_path)
    teacher = {
        k[len('teacher.module.'):]: v
        for k, v in state.items() if k.startswith('teacher.module.')
    }
    student = {k: v for k, v in state.items() if k.split('.')[0] in
               ('backbone', 'head')}
    assert set(teacher) == set(student)
    # the teacher is an average of the student: close to it, not equal
    key = 'backbone.blocks.0.attn.qkv.weight'
    assert not torch.equal(teacher[key], student[key])
    assert state['teacher.steps'].item() == EPOCHS * 4
    assert state['loss_module.center'].abs().sum() > 0


def test_dino_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                           repo_root, subprocess_env,
                                           free_port):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), CONFIG, '2',
        '--work-dir', work_dir, '--cfg-options', *SMALL,
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    # 128 images, 32 per process and step, 2 processes: 2 steps
    records = train_records(work_dir)
    assert sorted(r['iter'] for r in records) == [1, 2]
    state = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    assert state['teacher.steps'].item() == 2
    assert state['loss_module.center'].abs().sum() > 0
