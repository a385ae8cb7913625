# Copyright (c) mmvitplug contributors.
"""The upstream OpenMMLab scripts run our configs, with the plugin imported
by ``custom_imports`` alone (nothing of ours on the command line)."""
import math
import os
import os.path as osp
import sys

import pytest

from _e2e import run_tool, train_records

pytestmark = pytest.mark.e2e

# What a user writes for a GPU cluster: our backbone, an upstream head with
# SyncBN, the upstream runtime's nccl backend. 64 digits, 16 per process and
# step, 2 processes: 2 training steps.
UPSTREAM_CFG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=10, mean=[77.9] * 3,
                           std=[95.9] * 3, to_rgb=True),
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8, drop_path_rate=0.0),
    head=dict(
        type='StackedLinearClsHead', num_classes=10, in_channels=32,
        mid_channels=[32], norm_cfg=dict(type='SyncBN')))
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImageNet', data_root='{digits}', split='train', indices=64,
        metainfo=dict(classes=tuple(str(i) for i in range(10))),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
train_cfg = dict(by_epoch=True, max_epochs=1)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1))
log_processor = dict(window_size=1)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
"""


def upstream_tool(package: str, name: str) -> str:
    """The path of a tool shipped in an OpenMMLab package (``.mim/tools``).
    """
    module = __import__(package)
    path = osp.join(osp.dirname(module.__file__), '.mim', 'tools', name)
    assert osp.exists(path), path
    return path


def test_upstream_mmpretrain_dist_train_on_cpu(tmp_path, repo_root,
                                               bundled_digits,
                                               subprocess_env, free_port):
    """mmpretrain's dist_train.sh (torch.distributed.launch, plain
    ``python``) with 2 CPU processes: mmengine would call
    ``torch.cuda.set_device``, build DDP with device ids and train SyncBN on
    CPU tensors; importing the plugin makes it gloo, no device ids, BN."""
    config = tmp_path / 'upstream_digits.py'
    config.write_text(
        UPSTREAM_CFG.replace('{digits}',
                             osp.join(repo_root, 'data', 'bundled',
                                      'digits')))
    work_dir = str(tmp_path / 'work')
    env = dict(
        subprocess_env,
        OMP_NUM_THREADS='1',
        PORT=free_port,
        # the script runs `python`: ours, with the plugin importable
        PATH=osp.dirname(sys.executable) + os.pathsep +
        subprocess_env.get('PATH', ''),
        PYTHONPATH=repo_root + os.pathsep +
        subprocess_env.get('PYTHONPATH', ''))
    log = run_tool([
        'bash', upstream_tool('mmpretrain', 'dist_train.sh'),
        str(config), '2', '--work-dir', work_dir
    ], cwd=str(tmp_path), env=env, timeout=600)

    assert 'Distributed training: True' in log
    assert "no CUDA: dist backend 'nccl' -> 'gloo'" in log
    assert 'no CUDA: MMDistributedDataParallel without device_ids' in log
    assert 'no CUDA: 1 SyncBatchNorm layer(s) -> BatchNorm' in log
    # 2 steps: 64 images, 16 per process and step, so 2 processes
    records = train_records(work_dir)
    assert [r['iter'] for r in records] == [1, 2]
    assert all(math.isfinite(r['loss']) for r in records)
    assert osp.exists(osp.join(work_dir, 'epoch_1.pth'))
