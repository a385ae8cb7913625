# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled ResMLP configs through tools/train.py.

A few dozen iterations of classification (digits), Mask R-CNN (shapes-coco)
and UperNet (shapes-ade), each ending with its evaluation (which exercises
the fixed-size test pipelines ResMLP needs); the training loss must go down.
"""
import pytest

from _e2e import smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/resmlp/'
# task: (config, --cfg-options, what the log shows once the fixed-size
# evaluation ran to the end; after so few iterations the detector may still
# predict no box, so there is no mAP to check)
RUNS = {
    # 2 epochs x 23 iterations (LAMB warm-up takes the first epoch)
    'cls': (CFG + 'sup-resmlp-4l128d-p4_1xb64_digits.py',
            ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2'],
            'accuracy/top1'),
    # 24 iterations on 96 images, then box / mask mAP on 20 val images
    'det': (CFG + 'mask-rcnn-resmlp-4l96d-p16_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
        'val_dataloader.dataset.indices=20'
    ], 'Epoch(val) [1][20/20]'),
    # 30 iterations, then sliding-window mIoU on the val split
    'seg': (CFG + 'upernet-resmlp-4l96d-p16_1xb4_shapes-ade.py',
            ['train_cfg.max_iters=30', 'train_cfg.val_interval=30'], 'mIoU'),
}


@pytest.mark.parametrize('task', sorted(RUNS))
def test_bundled_config_trains(task, tmp_path, repo_root, bundled_data,
                               subprocess_env):
    config, options, done = RUNS[task]
    log = smoke_train(repo_root, config, tmp_path / task, *options,
                      env=subprocess_env, timeout=300)
    assert done in log  # the evaluation ran to the end
