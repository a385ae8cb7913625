# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled ResMLP configs through tools/train.py.

A few dozen iterations of classification (digits), Mask R-CNN (shapes-coco)
and UperNet (shapes-ade), each ending with its evaluation (which exercises
the fixed-size test pipelines ResMLP needs); the training loss must go down.
"""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

RUNS = {
    # 2 epochs x 23 iterations (LAMB warm-up takes the first epoch)
    'cls': ('configs/resmlp/sup-resmlp-12_1xb64_digits.py', [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2'
    ]),
    # 24 iterations on 96 images, then box / mask mAP on 20 val images
    'det': ('configs/resmlp/mask-rcnn-resmlp-12_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
        'val_dataloader.dataset.indices=20'
    ]),
    # 30 iterations, then sliding-window mIoU on the val split
    'seg': ('configs/resmlp/upernet-resmlp-12_1xb4_shapes-ade.py', [
        'train_cfg.max_iters=30', 'train_cfg.val_interval=30'
    ]),
}


def train_losses(work_dir):
    """Logged training losses, in order."""
    losses = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record and 'lr' in record:
                    losses.append(record['loss'])
    return losses


@pytest.mark.parametrize('task', sorted(RUNS))
def test_bundled_config_trains(task, tmp_path, repo_root, bundled_data,
                               subprocess_env):
    config, options = RUNS[task]
    work_dir = str(tmp_path / task)
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools', 'train.py'), config, '--work-dir',
        work_dir, '--cfg-options', 'default_hooks.logger.interval=5',
        *options
    ]
    proc = subprocess.run(
        cmd, cwd=repo_root, env=subprocess_env, capture_output=True,
        text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    losses = train_losses(work_dir)
    assert len(losses) >= 4, losses
    assert losses[-1] < losses[0], losses
    log = proc.stdout + proc.stderr
    # the fixed-size evaluation ran to the end (after so few iterations the
    # detector may still predict no box, so there is no mAP to check)
    done = {'cls': 'accuracy/top1', 'det': 'Epoch(val) [1][20/20]',
            'seg': 'mIoU'}[task]
    assert done in log
