# Copyright (c) mmvitplug contributors.
"""Smoke training of each backbone family's bundled configs through
tools/train.py: a few dozen iterations of classification (digits), Mask
R-CNN (shapes-coco) and UperNet (shapes-ade), each ending with its
evaluation (the metric must be printed). Families with more to check
(LeViT, XCiT, ResMLP, PatchConvNet, DeiT) have e2e files of their own.
"""
import pytest

from _e2e import smoke_train

pytestmark = pytest.mark.e2e

#: family: (digits config, shapes arch, training images for cls / det,
#: UperNet iterations); configs under configs/bundled/<family>/ (or the
#: folder FOLDERS gives)
FAMILIES = {
    'cait': ('sup-cait-4l192d-p4_1xb64_digits.py', 'cait-4l96d-p16', 640,
             96, 30),
    'cct': ('sup-cct-6l128d-p4_1xb64_digits.py', 'cct-4l96d-p16', 640, 96,
            30),
    'convit': ('sup-convit-4l192d-p8_1xb16_digits.py', 'convit-4l96d-p16',
               640, 96, 30),
    'cvt': ('sup-cvt-6l32d-p4_1xb64_digits.py', 'cvt-6l32d-p4', 320, 80, 20),
    'dhvt': ('sup-dhvt-4l96d-p4_1xb64_digits.py', 'dhvt-4l96d-p16', 320,
             96, 30),
    'pit': ('sup-pit-7l64d-p4_1xb64_digits.py', 'pit-6l32d-p8', 640, 96, 30),
    'cmt': ('sup-cmt-9l32d-p4_1xb64_digits.py', 'cmt-9l32d-p4', 320, 80, 20),
    'hatnet': ('sup-hatnet-8l32d-p4_1xb64_digits.py', 'hatnet-8l32d-p4',
               320, 80, 20),
    'lit': ('sup-lit-8l32d-p4_1xb64_digits.py', 'lit-8l32d-p4', 320, 80,
            20),
    'lit-ti': ('sup-lit-ti-8l32d-p4_1xb64_digits.py', 'lit-ti-8l32d-p4',
               320, 80, 20),
    'revcol': ('intersup-revcol-16l16d-p4_1xb64_digits.py',
               'revcol-16l16d-p4', 320, 80, 20),
    'sret': ('sup-sret-5l32d-p8_1xb64_digits.py', 'sret-5l32d-p8', 320, 80,
             20),
    'litv2': ('sup-litv2-8l32d-p4_1xb64_digits.py', 'litv2-8l32d-p4', 320,
              80, 20),
    'internimage': ('sup-internimage-5l16d-p4_1xb64_digits.py',
                    'internimage-5l16d-p4', 320, 80, 20),
    'ghostnet': ('sup-ghostnet-0.5x_1xb64_digits.py', 'ghostnet-0.5x', 320,
                 80, 20),
    'g_ghost_regnet': ('sup-g-ghost-regnetx-4l16d-p4_1xb64_digits.py',
                       'g-ghost-regnetx-4l16d-p4', 320, 80, 20),
}
#: families whose configs share another family's folder
FOLDERS = {'lit-ti': 'lit'}


#: Arch-Net's students (their classification is a distillation,
#: tests/e2e/test_e2e_kd.py) in the dense tasks: shapes arch: (training
#: images for det, UperNet iterations); configs under
#: configs/bundled/archnet/
ARCHNET = {'resnet18-w16': (80, 20), 'deit-4l96d-p16': (96, 30)}


def runs(family):
    """task: (config, --cfg-options, a metric the final evaluation prints)
    """
    digits, arch, cls_images, det_images, seg_iters = FAMILIES[family]
    cfg = f'configs/bundled/{FOLDERS.get(family, family)}/'
    return {
        # 2 epochs of 32-image batches on the first training images (a few
        # classes: a smoke test, not a learning test), then top-1 on val
        'cls': (cfg + digits, [
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
            'train_dataloader.batch_size=32',
            f'train_dataloader.dataset.indices={cls_images}'
        ], 'accuracy/top1'),
        **dense_runs(cfg, arch, det_images, seg_iters)
    }


def dense_runs(cfg, arch, det_images, seg_iters):
    """The det and seg runs of the bundled configs of ``arch`` in folder
    ``cfg``."""
    return {
        # one epoch on a few images, then box / mask mAP on the val split
        # (score threshold 0 so the barely trained model yields detections)
        'det': (cfg + f'mask-rcnn-{arch}_1xb4_shapes-coco.py', [
            'train_cfg.max_epochs=1',
            f'train_dataloader.dataset.indices={det_images}',
            'model.test_cfg.rcnn.score_thr=0.0'
        ], 'coco/bbox_mAP'),
        # a few iterations, then mIoU on the val split
        'seg': (cfg + f'upernet-{arch}_1xb4_shapes-ade.py', [
            f'train_cfg.max_iters={seg_iters}',
            f'train_cfg.val_interval={seg_iters}'
        ], 'mIoU'),
    }


@pytest.mark.parametrize('family', sorted(FAMILIES))
@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
def test_bundled_config_trains(family, task, tmp_path, repo_root,
                               bundled_data, subprocess_env):
    config, options, metric = runs(family)[task]
    log = smoke_train(repo_root, config, tmp_path / task, *options,
                      env=subprocess_env, timeout=300)
    assert metric in log  # the evaluation ran


@pytest.mark.parametrize('arch', sorted(ARCHNET))
@pytest.mark.parametrize('task', ['det', 'seg'])
def test_archnet_student_trains_dense(arch, task, tmp_path, repo_root,
                                      bundled_data, subprocess_env):
    config, options, metric = dense_runs('configs/bundled/archnet/', arch,
                                         *ARCHNET[arch])[task]
    log = smoke_train(repo_root, config, tmp_path / task, *options,
                      env=subprocess_env, timeout=300)
    assert metric in log  # the evaluation ran
