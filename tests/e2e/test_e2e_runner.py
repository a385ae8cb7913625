# Copyright (c) mmvitplug contributors.
"""The upstream-style tools on this stack: --resume and CPU distributed."""
import os.path as osp
import sys

import pytest

from _e2e import run_tool, train, train_records

pytestmark = pytest.mark.e2e

# A tiny, fully deterministic classification run on 128 bundled digits:
# no random augmentation, no stochastic depth, single-process data loading,
# so two runs that start from the same state must log the same losses. Self
# contained (no repository config), with what resuming must restore: AdamW
# moments, a warm-up + cosine lr schedule, the message hub.
TINY_CFG = """
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
    head=dict(type='LinearClsHead', num_classes=10, in_channels=32))
_dataset = dict(
    type='ImageNet', data_root='{digits}',
    metainfo=dict(classes=tuple(str(i) for i in range(10))),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(split='train', indices=128, **_dataset))
val_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='val', indices=64, **_dataset))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=2, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=100)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=-1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))  # as upstream runtimes
log_processor = dict(window_size=1)
randomness = dict(seed=0)
"""


@pytest.fixture
def tiny_config(tmp_path, repo_root, bundled_digits):
    path = tmp_path / 'tiny_digits.py'
    path.write_text(TINY_CFG.replace(
        '{digits}', osp.join(repo_root, 'data', 'bundled', 'digits')))
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
                                               repo_root, subprocess_env,
                                               free_port):
    work_dir = str(tmp_path / 'dist')
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_train.sh'), tiny_config,
        '2', '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1'
    ], cwd=repo_root, env=env, timeout=600)
    assert 'Distributed training: True' in log
    assert "no CUDA: dist backend 'nccl' -> 'gloo'" in log
    # 128 images, 32 per process and step, 2 processes: 2 steps per epoch
    assert sorted(train_losses(work_dir)) == [1, 2]
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.exists(checkpoint)
    log = run_tool([
        'bash', osp.join(repo_root, 'tools', 'dist_test.sh'), tiny_config,
        checkpoint, '2', '--work-dir', str(tmp_path / 'dist_test')
    ], cwd=repo_root, env=env, timeout=600)
    assert 'accuracy/top1' in log
