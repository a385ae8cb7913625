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
import pytest

from _e2e import scalar_records, train

pytestmark = pytest.mark.e2e

DET_CFG = 'configs/bundled/deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py'
SEG_CFG = 'configs/bundled/deit/upernet-deit-4l96d-p16_1xb4_shapes-ade.py'


def final_metrics(work_dir, key):
    """The last logged record of the run that contains ``key``."""
    records = [r for r in scalar_records(work_dir) if key in r]
    assert records, f'no {key} logged under {work_dir}'
    return records[-1]


def test_mask_rcnn_deit_learns_shapes(tmp_path, repo_root, bundled_data,
                                      subprocess_env):
    train(repo_root, DET_CFG, tmp_path, env=subprocess_env, timeout=600)
    metrics = final_metrics(tmp_path, 'coco/bbox_mAP')
    assert metrics['coco/bbox_mAP'] > 0.4, metrics
    assert metrics['coco/segm_mAP'] > 0.4, metrics


def test_upernet_deit_learns_shapes(tmp_path, repo_root, bundled_data,
                                    subprocess_env):
    train(repo_root, SEG_CFG, tmp_path, env=subprocess_env, timeout=600)
    metrics = final_metrics(tmp_path, 'mIoU')
    # mmseg logs mIoU in percent
    assert metrics['mIoU'] > 60, metrics
