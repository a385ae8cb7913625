# Copyright (c) mmvitplug contributors.
"""End to end: SEER (SwAV on a RegNetY) on the bundled digits through
tools/train.py and a 2-process tools/dist_train.sh.

The shipped config is shrunk with ``--cfg-options`` to a run of well under
a minute on two CPU cores: 128 training images, batch 32, 2 global + 2
local crops, 2 epochs (8 steps), the prototypes frozen for 2 steps
(mmpretrain's SwAVHook) and a queue of 2 batches from epoch 1, so that the
second epoch's Sinkhorn-Knopp runs on the queue. Whether pretraining helps
k-NN is measured by a script (see the README), not here.
"""
import os.path as osp
import sys

import pytest
import torch

from _e2e import logged, run_tool, train, train_records

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/seer/seer-regnety-5l16d-p4_1xb64_digits.py'
EPOCHS = 2
SMALL = [
    'train_dataloader.dataset.indices=128',
    'train_dataloader.batch_size=32',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.1.num_views=[2,2]',
    'model.head.loss.num_crops=[2,2]',
    'custom_hooks.0.batch_size=32',
    'custom_hooks.0.epoch_queue_starts=1',
    'custom_hooks.0.queue_length=64',
    'custom_hooks.0.frozen_layers_cfg.prototypes=2',
    f'train_cfg.max_epochs={EPOCHS}',
    'param_scheduler.0.end=1',
    'param_scheduler.1.begin=1',
    f'param_scheduler.1.end={EPOCHS}',
    f'default_hooks.checkpoint.interval={EPOCHS}',
    'default_hooks.logger.interval=1',
    'log_processor.window_size=1',
]


def test_seer_trains_on_digits(bundled_digits, tmp_path, repo_root,
                               subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options', *SMALL,
          env=subprocess_env)
    records = train_records(tmp_path)
    assert len(records) == EPOCHS * 4
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records)
    # no collapse: several of the 30 prototypes are some sample's best
    # match; codes neither hard (0) nor uniform (log 30)
    assert all(1 < n <= 30 for n in logged(tmp_path, 'prototypes_used'))
    assert all(0 < h < torch.log(torch.tensor(30.)).item()
               for h in logged(tmp_path, 'code_entropy'))
    state = torch.load(
        osp.join(str(tmp_path), f'epoch_{EPOCHS}.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    prototypes = state['head.loss_module.prototypes.weight']
    assert prototypes.shape == (30, 64)
    # SwAVHook saved the filled queue: 2 crops x 64 embeddings x 64 dims
    queue = torch.load(osp.join(str(tmp_path), 'queue.pth'),
                       weights_only=True)['queue']
    assert queue.shape == (2, 64, 64)
    torch.testing.assert_close(queue.norm(dim=2), torch.ones(2, 64))


def test_seer_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                           repo_root, subprocess_env,
                                           free_port):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), CONFIG, '2',
        '--work-dir', work_dir, '--cfg-options', *SMALL,
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1',
        'custom_hooks.0.epoch_queue_starts=0'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    # 128 images, 32 per process and step, 2 processes: 2 steps
    records = train_records(work_dir)
    assert sorted(r['iter'] for r in records) == [1, 2]
    assert all(n > 1 for n in logged(work_dir, 'prototypes_used'))
    # one queue per process (SwAVHook), each 64 / 2 embeddings long
    for rank in (0, 1):
        queue = torch.load(osp.join(work_dir, f'queue{rank}.pth'),
                           weights_only=True)['queue']
        assert queue.shape == (2, 32, 64)
