# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled CaiT configs through tools/train.py.

A few dozen iterations of classification (digits), Mask R-CNN (shapes-coco)
and UperNet (shapes-ade), each ending with its evaluation; the training loss
must go down.
"""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

RUNS = {
    # 2 epochs x 20 iterations of 32 images (the first 640 training images,
    # a few classes: a smoke test, not a learning test), then top-1 on val
    'cls': ('configs/cait/sup-cait-xxs24_1xb64_digits.py', [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=640'
    ]),
    # 24 iterations on 96 images, then box / mask mAP on the val split
    # (score threshold 0 so the barely trained model yields detections)
    'det': ('configs/cait/mask-rcnn-cait-xxs24_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
        'model.test_cfg.rcnn.score_thr=0.0'
    ]),
    # 30 iterations, then mIoU on the val split
    'seg': ('configs/cait/upernet-cait-xxs24_1xb4_shapes-ade.py', [
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
    metric = {'cls': 'accuracy/top1', 'det': 'coco/bbox_mAP',
              'seg': 'mIoU'}[task]
    assert metric in proc.stdout + proc.stderr  # the evaluation ran
