# Copyright (c) mmvitplug contributors.
"""The upstream-style tools on this stack: --resume and CPU distributed."""
import os.path as osp
import sys

import pytest
from _e2e import run_tool, train, train_records

pytestmark = pytest.mark.e2e

# A tiny, fully deterministic classification run on 128 bundled digits:
# no random augmentation, no stochastic depth, single-process data loading,
# so two runs that start from the same state must log the same losses.
TINY_CFG = """
_base_ = ['{root}/configs/deit/sup-deit-tiny_1xb16_digits.py']
model = dict(backbone=dict(
    arch=dict(embed_dims=32, num_layers=2, num_heads=2,
              feedforward_channels=64),
    drop_path_rate=0.0), head=dict(in_channels=32))
_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(indices=128, pipeline=_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    dataset=dict(indices=64))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=-1, save_best=None))
log_processor = dict(window_size=1)
randomness = dict(seed=0)
"""


@pytest.fixture
def tiny_config(tmp_path, repo_root, bundled_data):
    path = tmp_path / 'tiny_digits.py'
    path.write_text(TINY_CFG.format(root=repo_root))
    return str(path)


def train_losses(work_dir):
    """``{iter: loss}`` from every run logged under ``work_dir``."""
    return {r['iter']: r['loss'] for r in train_records(work_dir)}


def test_resume_reproduces_uninterrupted_run(tiny_config, tmp_path,
                                             repo_root, subprocess_env):
    def run(work_dir, *args):
        return train(repo_root, tiny_config, work_dir, *args,
                     env=subprocess_env, timeout=600)

    full, parts = str(tmp_path / 'full'), str(tmp_path / 'parts')
    run(full)
    run(parts, '--cfg-options', 'train_cfg.max_epochs=1')
    # resume loads the epoch-1 checkpoint with torch's weights-only loader
    log = run(parts, '--resume')
    assert 'resumed epoch: 1, iter: 4' in log

    uninterrupted, resumed = train_losses(full), train_losses(parts)
    assert sorted(uninterrupted) == list(range(1, 9))
    assert sorted(resumed) == list(range(1, 9))
    for it in range(1, 9):
        assert resumed[it] == pytest.approx(uninterrupted[it], rel=1e-5), it
    # the losses move, so equal losses are evidence of restored state
    assert uninterrupted[8] != pytest.approx(uninterrupted[5], rel=1e-3)


def test_dist_train_and_test_two_cpu_processes(tiny_config, tmp_path,
                                               repo_root, subprocess_env):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT='29531')
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), tiny_config,
        '2', '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    assert 'gloo' in log
    # 128 images, 32 per process and step, 2 processes: 2 steps per epoch
    assert sorted(train_losses(work_dir)) == [1, 2]
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.exists(checkpoint)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_test.sh'), tiny_config,
        checkpoint, '2', '--work-dir', str(tmp_path / 'dist_test')
    ], cwd=repo_root, env=env, timeout=600)
    assert 'accuracy/top1' in log
