# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled XCiT configs through tools/train.py.

A few dozen iterations of classification (digits), hard distillation from a
ResNet teacher (digits, XCiT's single head in both loss terms; the teacher
checkpoint is a freshly initialised ResNet saved here), Mask R-CNN
(shapes-coco, the paper's 4-scale pyramid + FPN), UperNet and Semantic FPN
(shapes-ade), each ending with its evaluation; the training loss must go
down.
"""
import pytest
import torch

from _e2e import smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/xcit/'
# task: (config, --cfg-options, a metric the final evaluation prints)
RUNS = {
    # 2 epochs x 20 iterations of 32 images (the first 640 training images:
    # a smoke test, not a learning test), then top-1 on val
    'cls': (CFG + 'sup-xcit-4l128d-p4_1xb64_digits.py', [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=640'
    ], 'accuracy/top1'),
    # 24 iterations on 96 images, then box / mask mAP on the val split
    # (score threshold 0 so the barely trained model yields detections)
    'det': (CFG + 'mask-rcnn-xcit-4l96d-p16_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
        'model.test_cfg.rcnn.score_thr=0.0'
    ], 'coco/bbox_mAP'),
    # 30 iterations, then mIoU on the val split
    'seg': (CFG + 'upernet-xcit-4l96d-p16_1xb4_shapes-ade.py',
            ['train_cfg.max_iters=30', 'train_cfg.val_interval=30'], 'mIoU'),
    # 20 iterations of 4 images, then mIoU on the val split
    'semfpn': (CFG + 'semfpn-xcit-4l96d-p16_1xb4_shapes-ade.py',
               ['train_cfg.max_iters=20', 'train_cfg.val_interval=20'],
               'mIoU'),
    # 2 epochs x 10 iterations of 32 images, then top-1 on val
    'distill': (CFG + 'distill-hard-xcit-4l128d-p4_1xb64_digits.py', [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=320'
    ], 'accuracy/top1'),
}


def random_teacher(path):
    """A digits ResNet teacher checkpoint (random weights)."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    cfg = Config.fromfile('configs/_teachers/resnet18-w32_digits.py')
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.teacher)
    torch.save({'state_dict': teacher.state_dict()}, path)
    return path


@pytest.mark.parametrize('task', sorted(RUNS))
def test_bundled_config_trains(task, tmp_path, repo_root, bundled_data,
                               subprocess_env, monkeypatch):
    config, options, metric = RUNS[task]
    if task == 'distill':
        monkeypatch.chdir(repo_root)
        ckpt = random_teacher(str(tmp_path / 'teacher.pth'))
        options = options + [f'model.teacher_ckpt={ckpt}']
    log = smoke_train(repo_root, config, tmp_path / task, *options,
                      env=subprocess_env, timeout=300)
    assert metric in log  # the evaluation ran
    if task == 'distill':
        assert 'loss_distill' in log
