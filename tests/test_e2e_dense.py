# Copyright (c) mmvitplug contributors.
"""Dense prediction with a plain DeiT, end to end through tools/train.py.

The bundled Mask R-CNN and UperNet configs train from scratch on the bundled
shapes with their own short schedules (about 2 and 1 CPU minutes) and
evaluate at the end. Measured: bbox / segm mAP 0.71-0.83 (5-8 epochs) and
mIoU 84-87% (300-400 iterations). The thresholds leave a wide margin while
staying far above chance: an untrained detector scores about 0 mAP (and
one pooling scrambled RoI features, the bug SimpleFPN guards against, 0.03);
all-background predictions score about 20-25% mIoU over the 4 classes.
"""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

DET_CFG = 'configs/deit/mask-rcnn-deit-tiny_1xb4_shapes-coco.py'
SEG_CFG = 'configs/deit/upernet-deit-tiny_1xb4_shapes-ade.py'


def train(config, work_dir, repo_root, env):
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools', 'train.py'), config, '--work-dir',
        str(work_dir)
    ]
    proc = subprocess.run(
        cmd, cwd=repo_root, env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def final_metrics(work_dir, key):
    """The last logged record of the run that contains ``key``."""
    records = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            records += [r for r in map(json.loads, f) if key in r]
    assert records, f'no {key} logged under {work_dir}'
    return records[-1]


def test_mask_rcnn_deit_learns_shapes(tmp_path, repo_root, bundled_data,
                                      subprocess_env):
    train(DET_CFG, tmp_path, repo_root, subprocess_env)
    metrics = final_metrics(tmp_path, 'coco/bbox_mAP')
    assert metrics['coco/bbox_mAP'] > 0.4, metrics
    assert metrics['coco/segm_mAP'] > 0.4, metrics


def test_upernet_deit_learns_shapes(tmp_path, repo_root, bundled_data,
                                    subprocess_env):
    train(SEG_CFG, tmp_path, repo_root, subprocess_env)
    metrics = final_metrics(tmp_path, 'mIoU')
    # mmseg logs mIoU in percent
    assert metrics['mIoU'] > 60, metrics
