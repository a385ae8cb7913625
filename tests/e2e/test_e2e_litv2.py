# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled LITv2 configs through tools/train.py.

A few dozen iterations of classification (digits), Mask R-CNN (shapes-coco)
and UperNet (shapes-ade), each ending with its evaluation.
"""
import pytest

from _e2e import smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/litv2/'
# task: (config, --cfg-options, a metric the final evaluation prints)
RUNS = {
    # 2 epochs x 10 iterations of 32 images (the first 320 training images,
    # a few classes: a smoke test, not a learning test), then top-1 on val
    'cls': (CFG + 'sup-litv2-8l32d-p4_1xb64_digits.py', [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=320'
    ], 'accuracy/top1'),
    # 20 iterations on 80 images, then box / mask mAP on the val split
    # (score threshold 0 so the barely trained model yields detections)
    'det': (CFG + 'mask-rcnn-litv2-8l32d-p4_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=80',
        'model.test_cfg.rcnn.score_thr=0.0'
    ], 'coco/bbox_mAP'),
    # 20 iterations, then mIoU on the val split
    'seg': (CFG + 'upernet-litv2-8l32d-p4_1xb4_shapes-ade.py',
            ['train_cfg.max_iters=20', 'train_cfg.val_interval=20'], 'mIoU'),
}


@pytest.mark.parametrize('task', sorted(RUNS))
def test_bundled_config_trains(task, tmp_path, repo_root, bundled_data,
                               subprocess_env):
    config, options, metric = RUNS[task]
    log = smoke_train(repo_root, config, tmp_path / task, *options,
                      env=subprocess_env, timeout=300)
    assert metric in log  # the evaluation ran
