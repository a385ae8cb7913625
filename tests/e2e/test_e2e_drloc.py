# Copyright (c) mmvitplug contributors.
"""End to end: DeiT + the DRLoc loss on the bundled digits through
tools/train.py and a 2-process tools/dist_train.sh.

The shipped config (deit-tiny widths, 4 blocks, 15 epochs) is shrunk with
``--cfg-options`` to 64 dims, batch 32 and 4 epochs (warm-up 1 epoch): the
logged DRLoc weight follows the schedule (0 in epoch 1, lambda = 0.5 in
epoch 2, then 0.5 * (1 - (e - 1) / 3)), and the unweighted localisation
error (``loss_drloc / drloc_weight``, mean absolute offset error in grid
cells on the 4 x 4 token grid) ends below chance: 1.25 cells, the error of
the best constant prediction (offset 0) for two independent uniform
positions, E|a - b| = (H^2 - 1) / (3 H) with H = 4. Measured (seed 0):
error 1.44 -> 1.05 cells (first / last 3 logged steps with a weight),
28.1 top-1 (chance 10).
"""
import os.path as osp
import sys

import pytest

from _e2e import run_tool, scalar_records, train

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/drloc/drloc-deit-4l192d-p8_1xb16_digits.py'
EPOCHS = 4
SMALL = [
    'model.backbone.arch.embed_dims=64',
    'model.backbone.arch.num_heads=2',
    'model.backbone.arch.feedforward_channels=128',
    'model.head.in_channels=64',
    'model.drloc_head.in_channels=64',
    'optim_wrapper.optimizer.lr=1e-3',
    'train_dataloader.batch_size=32',
    f'param_scheduler.1.end={EPOCHS}',
    'default_hooks.logger.interval=5',
] + [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]
#: mean absolute offset error of the best constant guess on a 4 x 4 grid
CHANCE_L1 = (4**2 - 1) / (3 * 4)


def _train_steps(work_dir):
    return [r for r in scalar_records(work_dir) if 'loss_drloc' in r]


def test_drloc_trains_digits(bundled_digits, tmp_path, repo_root,
                             subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options', *SMALL,
          f'train_cfg.max_epochs={EPOCHS}', f'train_cfg.val_interval={EPOCHS}',
          f'default_hooks.checkpoint.interval={EPOCHS}', env=subprocess_env)
    steps = _train_steps(tmp_path)
    # 1437 images / 32 = 45 steps per epoch, logged every 5
    per_epoch = 45
    weights = {}
    for r in steps:
        epoch = (r['step'] - 1) // per_epoch
        weights.setdefault(epoch, set()).add(round(r['drloc_weight'], 6))
    assert weights == {0: {0.0}, 1: {0.5}, 2: {round(0.5 * 2 / 3, 6)},
                       3: {round(0.5 / 3, 6)}}, weights
    assert all(r['loss_drloc'] == 0 for r in steps if r['step'] <= 45)
    # unweighted offset error (grid cells): falls, and ends below chance
    error = [r['loss_drloc'] / r['drloc_weight'] for r in steps
             if r['drloc_weight'] > 0]
    assert sum(error[-3:]) < sum(error[:3]), error
    assert sum(error[-3:]) / 3 < CHANCE_L1, error
    top1 = [r['accuracy/top1'] for r in scalar_records(tmp_path)
            if 'accuracy/top1' in r]
    assert top1[-1] > 20, top1  # chance is 10; measured 28.1


def test_drloc_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                            repo_root, subprocess_env,
                                            free_port):
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    work_dir = str(tmp_path / 'dist')
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), CONFIG, '2',
        '--work-dir', work_dir, '--cfg-options', *SMALL,
        'train_dataloader.dataset.indices=256', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    steps = _train_steps(work_dir)
    # 256 images, 32 per process and step, 2 processes: 4 steps per epoch
    assert [r['drloc_weight'] for r in steps if r['step'] > 4] and all(
        r['drloc_weight'] == 0.5 for r in steps if r['step'] > 4)
    assert osp.exists(osp.join(work_dir, 'epoch_2.pth'))
