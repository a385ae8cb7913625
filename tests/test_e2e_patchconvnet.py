# Copyright (c) mmvitplug contributors.
"""End to end: the bundled PatchConvNet configs train through tools/train.py.

Smoke runs of a few dozen iterations each (classification on digits, Mask
R-CNN on shapes-coco, UperNet on shapes-ade) with validation switched off;
each must finish and its logged loss must go down.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = 'configs/patchconvnet/'
NO_EVAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
           'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None']


def train(config, work_dir, *cfg_options):
    cmd = [sys.executable, 'tools/train.py', CFG + config, '--work-dir',
           str(work_dir), '--cfg-options', 'default_hooks.logger.interval=5',
           *NO_EVAL, *cfg_options]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get(
        'OMP_NUM_THREADS', '2'))
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]


def losses(work_dir):
    values = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            values += [r['loss'] for r in map(json.loads, f) if 'loss' in r]
    assert len(values) >= 4, values
    return values


def assert_decreases(values, margin):
    first, last = values[0], sum(values[-2:]) / 2
    assert last < first - margin, values


@pytest.mark.e2e
def test_digits_classification(bundled_data, tmp_path):
    # 640 images = 10 iterations per epoch, 3 epochs (1 warm-up)
    train('sup-patchconvnet-s60_1xb64_digits.py', tmp_path,
          'train_dataloader.dataset.indices=640', 'train_cfg.max_epochs=3')
    assert_decreases(losses(tmp_path), 0.05)


@pytest.mark.e2e
def test_shapes_coco_mask_rcnn(bundled_data, tmp_path):
    # 40 images in batches of 2 = 20 iterations
    train('mask-rcnn-patchconvnet-s60_1xb4_shapes-coco.py', tmp_path,
          'train_dataloader.batch_size=2',
          'train_dataloader.dataset.indices=40', 'train_cfg.max_epochs=1')
    assert_decreases(losses(tmp_path), 0.2)


@pytest.mark.e2e
def test_shapes_ade_upernet(bundled_data, tmp_path):
    train('upernet-patchconvnet-s60_1xb4_shapes-ade.py', tmp_path,
          'train_cfg.max_iters=20')
    assert_decreases(losses(tmp_path), 0.05)
