# Copyright (c) mmvitplug contributors.
"""End to end: SplitMask pre-training on the bundled digits through
tools/train.py and a 2-process tools/dist_train.sh, then the backbone
export and the k-NN evaluation tool.

The shipped configs are shrunk with ``--cfg-options`` to runs of well under
a minute on two idle CPU cores: 256 training images, batch 32, 2-block
32-dim encoder. Both loss terms must be logged and decrease (first vs last
logged values); the k-NN accuracy is only checked to be printed: at this
size it says nothing (the 2-seed comparison with the random-init backbone
is a measurement, see the README).
"""
import os.path as osp
import sys

import pytest

from _e2e import logged, run_tool, train

CONFIG = \
    'configs/bundled/splitmask/splitmask-pix-deit-4l64d-p4_1xb64_digits.py'
HOG_CONFIG = \
    'configs/bundled/splitmask/splitmask-hog-deit-4l64d-p4_1xb64_digits.py'
KNN_CONFIG = 'configs/bundled/splitmask/knn-deit-4l64d-p4_1xb128_digits.py'
EPOCHS = 4
SMALL = [
    'model.backbone.arch.embed_dims=32',
    'model.backbone.arch.num_layers=2',
    'model.backbone.arch.feedforward_channels=64',
    'model.head.embed_dims=32',
    'train_dataloader.batch_size=32',
    'train_dataloader.dataset.indices=256',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'optim_wrapper.optimizer.lr=2e-3',
    f'train_cfg.max_epochs={EPOCHS}',
    f'param_scheduler.1.end={EPOCHS}',
    f'default_hooks.checkpoint.interval={EPOCHS}',
    'default_hooks.logger.interval=2',
]
KNN_SMALL = [
    'model.backbone.arch.embed_dims=32',
    'model.backbone.arch.num_layers=2',
    'model.backbone.arch.feedforward_channels=64',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
]


def decreases(work_dir, key):
    values = logged(work_dir, key)
    assert len(values) >= 6, (key, values)
    assert sum(values[-3:]) < sum(values[:3]), (key, values)


@pytest.mark.e2e
def test_splitmask_pretrains_exports_and_evaluates(bundled_digits, tmp_path,
                                                   repo_root, subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options', *SMALL,
          env=subprocess_env)
    for key in ('loss_rec', 'loss_nce'):
        decreases(tmp_path, key)
    assert min(logged(tmp_path, 'desc_std')) > 0
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'model_converters', 'export_backbone.py'),
        CONFIG, str(tmp_path / f'epoch_{EPOCHS}.pth'), backbone
    ], repo_root, subprocess_env)
    log = run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), KNN_CONFIG, backbone,
        '--work-dir', str(tmp_path / 'knn'), '--cfg-options', *KNN_SMALL
    ], repo_root, subprocess_env)
    assert 'knn/top1_k20' in log


@pytest.mark.e2e
def test_splitmask_hog_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                                    repo_root,
                                                    subprocess_env, free_port):
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash',
        osp.join(repo_root, 'tools', 'dist_train.sh'), HOG_CONFIG, '2',
        '--work-dir',
        str(tmp_path), '--cfg-options', *SMALL[:-1],
        'default_hooks.logger.interval=1'
    ], repo_root, env, timeout=600)
    assert 'Distributed training: True' in log
    # 256 images, 32 per process and step, 2 processes: 4 steps per epoch
    for key in ('loss_rec', 'loss_nce'):
        decreases(tmp_path, key)
    assert osp.exists(tmp_path / f'epoch_{EPOCHS}.pth')
