# Copyright (c) mmvitplug contributors.
"""End to end: PAWS on the bundled digits (5 labels per class) through
``tools/train.py`` then the soft nearest-neighbour evaluation of its
checkpoint through ``tools/test.py``, and 2-process ``dist_train.sh`` with
different support classes on each process.

Short runs (a few steps): they prove the plumbing (dataset, batch sampler,
collate, preprocessor, loss under DDP), not the accuracy, which is measured
by hand (README).
"""
import math
import os.path as osp
import sys

import pytest

from _e2e import logged, run_tool, train

CONFIG = 'configs/bundled/paws/paws-deit-4l192d-p8_1xb32_digits-5shot.py'
SNN_CONFIG = 'configs/bundled/paws/snn-deit-4l192d-p8_1xb128_digits-5shot.py'
SHORT = ('train_dataloader.num_batch_per_epoch=3', 'train_cfg.max_epochs=2',
         'train_dataloader.batch_size=8', 'train_dataloader.num_workers=1',
         'default_hooks.logger.interval=1')


def _check_losses(work_dir, steps):
    paws = logged(work_dir, 'loss_paws')
    me_max = logged(work_dir, 'loss_me_max')
    assert len(paws) == steps, paws
    assert all(math.isfinite(v) for v in paws + me_max)
    # me-max is minus an entropy over the 10 classes: in [-log 10, 0]
    assert all(-math.log(10) - 1e-4 <= v <= 0 for v in me_max), me_max


@pytest.mark.e2e
def test_paws_train_then_snn_eval(bundled_digits, tmp_path, repo_root,
                                  subprocess_env):
    work_dir = tmp_path / 'paws'
    train(repo_root, CONFIG, work_dir, '--cfg-options', *SHORT,
          env=subprocess_env)
    _check_losses(work_dir, 6)
    checkpoint = str(work_dir / 'epoch_2.pth')
    out = run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), SNN_CONFIG, checkpoint,
        '--work-dir',
        str(tmp_path / 'snn'), '--cfg-options',
        'test_dataloader.num_workers=1'
    ], repo_root, subprocess_env)
    assert 'snn/top1' in out


@pytest.mark.e2e
def test_paws_dist_train_two_processes(bundled_digits, tmp_path, repo_root,
                                       subprocess_env, free_port):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash',
        osp.join(repo_root, 'tools', 'dist_train.sh'), CONFIG, '2',
        '--work-dir', work_dir, '--cfg-options', *SHORT,
        'train_cfg.max_epochs=1',
        'train_dataloader.batch_sampler.unique_classes=True',
        'train_dataloader.batch_sampler.classes_per_batch=5'
    ], cwd=repo_root, env=env)
    assert 'Distributed training: True' in log
    _check_losses(work_dir, 3)


def _ddp_worker(rank, init_file, data, out_dir):
    import torch
    import torch.distributed as dist

    from mmvitplug.models.losses.paws import PAWSLoss
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=2)
    try:
        views = data['views'][rank].clone().requires_grad_(True)
        supports = data['supports'][rank].clone().requires_grad_(True)
        paws, me_max = PAWSLoss()(views, supports, data['labels'],
                                  data['targets'][rank],
                                  data['target_supports'][rank])
        (paws + me_max).backward()
        torch.save(dict(views=views.grad, supports=supports.grad,
                        paws=paws.detach(), me_max=me_max.detach()),
                   osp.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.mark.e2e
def test_paws_loss_gradients_under_two_processes(tmp_path):
    """Two gloo processes, each with its own views and supports: the loss
    gathers the supports (gradient summed over processes) and averages
    me-max (identity gradient), so that DDP's mean of the gradients is the
    gradient of the mean of the processes' PAWS terms plus the global
    me-max term, computed here in one process."""
    import torch
    import torch.multiprocessing as mp

    from mmvitplug.models.losses.paws import PAWSLoss, support_label_matrix
    torch.manual_seed(0)
    batch, small, dim = 3, 2, 8
    data = dict(
        views=[torch.randn(batch * (2 + small), dim) for _ in range(2)],
        supports=[torch.randn(4, dim) for _ in range(2)],
        targets=[torch.randn(2 * batch, dim) for _ in range(2)],
        target_supports=[torch.randn(4, dim) for _ in range(2)],
        # different classes on each process (unique_classes)
        labels=support_label_matrix(torch.tensor([0, 1, 0, 1, 2, 3, 2, 3]),
                                    0.1))
    mp.spawn(_ddp_worker, args=(str(tmp_path / 'init'), data,
                                str(tmp_path)), nprocs=2)
    got = [torch.load(str(tmp_path / f'rank{r}.pt')) for r in range(2)]

    # one process: the mean of the two PAWS terms + me-max of all views
    views = [v.clone().requires_grad_(True) for v in data['views']]
    supports = [s.clone().requires_grad_(True) for s in data['supports']]
    all_supports = torch.cat(supports)
    loss = PAWSLoss(me_max=False)
    paws = [
        loss(views[r], all_supports, data['labels'], data['targets'][r],
             torch.cat(data['target_supports']))[0] for r in range(2)
    ]
    me_max = PAWSLoss()(torch.cat(views), all_supports, data['labels'],
                        torch.cat([data['targets'][0], data['targets'][1]]),
                        torch.cat(data['target_supports']))[1]
    (0.5 * (paws[0] + paws[1]) + me_max).backward()
    for r in range(2):
        assert torch.allclose(got[r]['paws'], paws[r], atol=1e-6)
        assert torch.allclose(got[r]['me_max'], me_max, atol=1e-6)
        # DDP averages the processes' gradients
        assert torch.allclose(0.5 * got[r]['views'], views[r].grad,
                              atol=1e-6)
        assert torch.allclose(0.5 * got[r]['supports'], supports[r].grad,
                              atol=1e-6)
