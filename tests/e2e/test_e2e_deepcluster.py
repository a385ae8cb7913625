# Copyright (c) mmvitplug contributors.
"""End to end: DeepCluster and DeeperCluster on the bundled digits through
tools/train.py, and DeepCluster through a 2-process tools/dist_train.sh
(gloo on CPU: features gathered, k-means on rank 0, labels broadcast, the
uniform sampler sharded per rank).

The shipped configs are shrunk with ``--cfg-options`` (512 / 384 of the
training images, batch 64, no loader workers, 2-3 epochs) so that each run
takes well under a minute on an idle 2-core machine. They check the mechanics
(clustering every ``interval`` epochs, NMI with the previous assignment
logged, more than one cluster used, the labels saved in the checkpoint);
the k-NN comparison with the random-init backbone is a measurement, not a
test (README).
"""
import os.path as osp
import sys

import pytest
import torch

from _e2e import logged, run_tool, train, train_records

DEEPCLUSTER = ('configs/bundled/deepcluster/'
               'deepcluster-deit-4l128d-p8_1xb16_digits.py')
DEEPERCLUSTER = ('configs/bundled/deepercluster/'
                 'deepercluster-deit-4l128d-p8_1xb64_digits.py')
SOBEL = ('configs/bundled/deepcluster/'
         'deepcluster-sobel-regnety-5l16d-p4_1xb16_digits.py')
SOBEL_KNN = ('configs/bundled/deepcluster/'
             'knn-sobel-regnety-5l16d-p4_1xb128_digits.py')


def small(epochs, images):
    return [
        f'train_cfg.max_epochs={epochs}',
        f'param_scheduler.1.end={epochs}',
        f'default_hooks.checkpoint.interval={epochs}',
        'default_hooks.logger.interval=2',
        f'train_dataloader.dataset.indices={images}',
        'train_dataloader.batch_size=64',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
    ]


def saved_labels(work_dir, epochs):
    ckpt = torch.load(
        osp.join(str(work_dir), f'epoch_{epochs}.pth'), map_location='cpu')
    return ckpt['meta']['deepcluster']['labels']


@pytest.mark.e2e
def test_deepcluster_trains_on_digits(bundled_digits, tmp_path, repo_root,
                                      subprocess_env):
    log = train(repo_root, DEEPCLUSTER, tmp_path, '--cfg-options',
                *small(2, 512), env=subprocess_env)
    assert log.count('DeepClusterHook, epoch') == 2  # every epoch
    assert len(logged(tmp_path, 'nmi_prev')) >= 1  # from the 2nd epoch
    used = logged(tmp_path, 'clusters_used')
    assert all(u > 1 for u in used), used
    assert 0 < logged(tmp_path, 'nmi_gt')[-1] < 1
    losses = [r['loss'] for r in train_records(tmp_path)]
    assert all(0 < v < 10 for v in losses), losses
    labels = saved_labels(tmp_path, 2)
    assert labels.shape == (512, ) and int(labels.max()) < 50


@pytest.mark.e2e
def test_deepcluster_on_sobel_input_trains_exports_and_evaluates(
        bundled_digits, tmp_path, repo_root, subprocess_env):
    """The convnet on the paper's Sobel input: the clustering features,
    the training steps and the k-NN evaluation of the export all see the
    2-channel gradients (a 3-channel image would not fit the stem)."""
    train(repo_root, SOBEL, tmp_path, '--cfg-options', *small(2, 256),
          env=subprocess_env)
    assert logged(tmp_path, 'clusters_used')[-1] > 1
    exported = str(tmp_path / 'backbone.pth')
    run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'model_converters', 'export_backbone.py'),
        SOBEL, str(tmp_path / 'epoch_2.pth'), exported
    ], cwd=repo_root, env=subprocess_env)
    stem = torch.load(exported, map_location='cpu')['state_dict'][
        'backbone.stem.conv.weight']
    assert stem.shape[1] == 2  # grey-level gradients x and y
    log = run_tool([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), SOBEL_KNN, exported,
        '--work-dir', str(tmp_path / 'knn')
    ], cwd=repo_root, env=subprocess_env)
    assert 'knn/top1_k10' in log


@pytest.mark.e2e
def test_deepercluster_trains_on_digits(bundled_digits, tmp_path, repo_root,
                                        subprocess_env):
    log = train(repo_root, DEEPERCLUSTER, tmp_path, '--cfg-options',
                *small(3, 384), 'custom_hooks.0.interval=2',
                env=subprocess_env)
    # clustered before epochs 0 and 2, epoch 1 keeps the assignment
    assert 'DeepClusterHook, epoch 0' in log
    assert 'DeepClusterHook, epoch 1' not in log
    assert 'DeepClusterHook, epoch 2' in log
    assert logged(tmp_path, 'super_clusters_used')[-1] == 4
    assert logged(tmp_path, 'clusters_used')[-1] > 4
    for key in ('loss_super', 'loss_sub'):
        values = logged(tmp_path, key)
        assert all(0 < v < 10 for v in values), (key, values)
    labels = saved_labels(tmp_path, 3)
    assert labels.shape == (384, ) and int(labels.max()) < 80


@pytest.mark.e2e
def test_deepcluster_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                                  repo_root,
                                                  subprocess_env, free_port):
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), DEEPCLUSTER,
        '2', '--work-dir', str(tmp_path), '--cfg-options', *small(2, 512)
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    assert log.count('DeepClusterHook, epoch') == 2  # logged by rank 0
    # 512 images: 256 per rank, 4 steps of 64 per epoch
    records = train_records(tmp_path)
    assert max(r['iter'] for r in records) == 8
    assert logged(tmp_path, 'clusters_used')[-1] > 1
    labels = saved_labels(tmp_path, 2)
    assert labels.shape == (512, )  # every image, gathered from both ranks


@pytest.mark.e2e
def test_deepercluster_dist_train_two_cpu_processes(bundled_digits, tmp_path,
                                                    repo_root,
                                                    subprocess_env, free_port):
    """DeeperCluster under 2 processes: the single-clustering path (the
    official code needs a world size divisible by the super-classes) with
    features gathered and the hierarchical labels broadcast."""
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'),
        DEEPERCLUSTER, '2', '--work-dir', str(tmp_path), '--cfg-options',
        *small(2, 384), 'custom_hooks.0.interval=1'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    assert log.count('DeepClusterHook, epoch') == 2  # logged by rank 0
    # 384 images: 192 per rank, 3 steps of 64 per epoch; the logger
    # (interval 2, ignore_last) logs the 2nd step of each epoch
    records = train_records(tmp_path)
    assert [(r['epoch'], r['iter']) for r in records] == [(1, 2), (2, 5)]
    assert logged(tmp_path, 'super_clusters_used')[-1] == 4
    for key in ('loss_super', 'loss_sub'):
        assert all(0 < v < 10 for v in logged(tmp_path, key)), key
    labels = saved_labels(tmp_path, 2)
    assert labels.shape == (384, )  # every image, gathered from both ranks
