# Copyright (c) mmvitplug contributors.
"""End to end: MACL in mmpretrain's SimCLR and MoCo (v2) on the bundled
digits through tools/train.py and a 2-process tools/dist_train.sh, then the
backbone exported and evaluated by k-NN through tools/test.py.

The shipped configs run on the first 320 training digits (``indices``),
batch 32, 2 epochs (20 steps); the k-NN numbers of the full 20-epoch runs
are in the README, measured by a script (not asserted here: whether MACL
beats random init on this budget is what those runs report).
"""
import math
import os.path as osp
import sys

import pytest

from _e2e import logged, run_tool, smoke_train, train, train_records

SIMCLR = 'configs/bundled/macl/macl-simclr-deit-4l64d-p8_1xb64_digits.py'
MOCO = 'configs/bundled/macl/macl-mocov2-deit-4l64d-p8_1xb64_digits.py'
KNN = 'configs/bundled/macl/knn-deit-4l64d-p8_1xb128_digits.py'
EPOCHS = 2
SMALL = [
    'train_dataloader.dataset.indices=320',
    'train_dataloader.batch_size=32',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    f'train_cfg.max_epochs={EPOCHS}',
    f'param_scheduler.1.end={EPOCHS}',
    f'default_hooks.checkpoint.interval={EPOCHS}',
]


@pytest.mark.e2e
def test_macl_simclr_trains_exports_and_knn(bundled_digits, tmp_path,
                                            repo_root, subprocess_env):
    smoke_train(repo_root, SIMCLR, tmp_path, *SMALL, env=subprocess_env)
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'model_converters',
                 'export_backbone.py'), SIMCLR,
        str(tmp_path / f'epoch_{EPOCHS}.pth'), backbone,
        # mmpretrain's SimCLR keeps its backbone under 'backbone'
        '--prefix', 'backbone'
    ], repo_root, subprocess_env)
    log = run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), KNN, backbone,
        '--work-dir', str(tmp_path / 'knn'), '--cfg-options',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ], repo_root, subprocess_env)
    assert 'knn/top1_k20' in log


@pytest.mark.e2e
def test_macl_mocov2_trains(bundled_digits, tmp_path, repo_root,
                            subprocess_env):
    """MoCo's loss first rises while real keys replace the random queue:
    the check is that every step is finite and the run completes."""
    train(repo_root, MOCO, tmp_path, '--cfg-options',
          'default_hooks.logger.interval=5', *SMALL, env=subprocess_env)
    losses = [r['loss'] for r in train_records(tmp_path)]
    assert len(losses) >= 4 and all(math.isfinite(v) for v in losses)
    assert osp.exists(tmp_path / f'epoch_{EPOCHS}.pth')


@pytest.mark.e2e
def test_macl_simclr_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                                  repo_root, subprocess_env,
                                                  free_port):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), SIMCLR, '2',
        '--work-dir', work_dir, '--cfg-options',
        'default_hooks.logger.interval=5', *SMALL
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    # 320 digits, 32 per process and step, 2 processes: 5 steps an epoch
    assert len(logged(work_dir, 'loss')) == EPOCHS
    assert osp.exists(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))
