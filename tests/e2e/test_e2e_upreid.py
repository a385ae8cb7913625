# Copyright (c) mmvitplug contributors.
"""End to end: UP-ReID on the bundled digits (ReID proxy) through
tools/train.py, its backbone exported and evaluated by k-NN through
tools/test.py.

The shipped config runs on the first 320 training digits (``indices``),
batch 32, 2 epochs (20 steps). The retrieval numbers of the full runs are
in the README (a script, not asserted here).
"""
import math
import os.path as osp
import sys

import pytest
import torch

from _e2e import logged, run_tool, train, train_records

CONFIG = 'configs/bundled/upreid/upreid-deit-4l64d-p8_1xb64_digits.py'
KNN = 'configs/bundled/upreid/knn-deit-4l64d-p8_1xb128_digits.py'
EPOCHS = 2


@pytest.mark.e2e
def test_upreid_trains_exports_and_knn(bundled_digits, tmp_path, repo_root,
                                       subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options',
          'default_hooks.logger.interval=5',
          'train_dataloader.dataset.indices=320',
          'train_dataloader.batch_size=32',
          'train_dataloader.num_workers=0',
          'train_dataloader.persistent_workers=False',
          f'train_cfg.max_epochs={EPOCHS}', f'param_scheduler.1.end={EPOCHS}',
          f'default_hooks.checkpoint.interval={EPOCHS}',
          env=subprocess_env)
    for key in ('loss_ins', 'loss_gc', 'loss_lc'):
        values = logged(tmp_path, key)
        assert len(values) >= 4 and all(math.isfinite(v) for v in values)
    # the augmented views move towards their originals
    gc = logged(tmp_path, 'loss_gc')
    assert gc[-1] < gc[0], gc
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'model_converters',
                 'export_backbone.py'), CONFIG,
        str(tmp_path / f'epoch_{EPOCHS}.pth'), backbone
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
def test_upreid_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                             repo_root, subprocess_env,
                                             free_port):
    """UP-ReID under 2 processes (gloo on CPU): MoCo's queue takes the keys
    of both ranks, the losses stay finite."""
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), CONFIG, '2',
        '--work-dir', str(tmp_path), '--cfg-options',
        'default_hooks.logger.interval=1',
        'train_dataloader.dataset.indices=128',
        'train_dataloader.batch_size=32',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={EPOCHS}', f'param_scheduler.1.end={EPOCHS}',
        f'default_hooks.checkpoint.interval={EPOCHS}'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    # 128 images: 64 per rank, 2 steps of 32 per epoch
    records = train_records(tmp_path)
    assert sorted(r['iter'] for r in records) == [1, 2, 3, 4]
    for key in ('loss_ins', 'loss_gc', 'loss_lc'):
        assert all(math.isfinite(v) for v in logged(tmp_path, key)), key
    state = torch.load(osp.join(str(tmp_path), f'epoch_{EPOCHS}.pth'),
                       map_location='cpu', weights_only=False)['state_dict']
    # the queue took the keys of both ranks: 4 steps x 2 ranks x 2 views x
    # 32 images (queue of 1024)
    assert int(state['loss_module.queue_ptr']) == 512
