# Copyright (c) mmvitplug contributors.
"""End to end: the bundled PatchConvNet configs train through tools/train.py.

Smoke runs of a few dozen iterations each (classification on digits, Mask
R-CNN on shapes-coco, UperNet on shapes-ade) with validation switched off;
each must finish and its logged loss must go down.
"""
import pytest

from _e2e import train, train_records

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/patchconvnet/'
NO_EVAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
           'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None']


@pytest.fixture
def run(repo_root, bundled_data, subprocess_env, tmp_path):
    """Train ``config`` without evaluation; returns its logged losses."""

    def run(config, *cfg_options):
        train(repo_root, CFG + config, tmp_path, '--cfg-options',
              'default_hooks.logger.interval=5', *NO_EVAL, *cfg_options,
              env=subprocess_env)
        values = [r['loss'] for r in train_records(tmp_path)]
        assert len(values) >= 4, values
        return values

    return run


def assert_decreases(values, margin):
    first, last = values[0], sum(values[-2:]) / 2
    assert last < first - margin, values


def test_digits_classification(run):
    # 640 images = 10 iterations per epoch, 3 epochs (1 warm-up)
    losses = run('sup-patchconvnet-4l64d-p4_1xb64_digits.py',
                 'train_dataloader.dataset.indices=640',
                 'train_cfg.max_epochs=3')
    assert_decreases(losses, 0.05)


def test_shapes_coco_mask_rcnn(run):
    # 40 images in batches of 2 = 20 iterations
    losses = run('mask-rcnn-patchconvnet-4l64d-p16_1xb4_shapes-coco.py',
                 'train_dataloader.batch_size=2',
                 'train_dataloader.dataset.indices=40',
                 'train_cfg.max_epochs=1')
    assert_decreases(losses, 0.2)


def test_shapes_ade_upernet(run):
    losses = run('upernet-patchconvnet-4l64d-p16_1xb4_shapes-ade.py',
                 'train_cfg.max_iters=20')
    assert_decreases(losses, 0.05)
