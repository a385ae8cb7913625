# Copyright (c) mmvitplug contributors.
"""Smoke training of the bundled LeViT configs through tools/train.py.

A few dozen iterations of classification (digits), hard distillation from a
ResNet teacher (digits; the teacher checkpoint is a freshly initialised
ResNet saved here: a smoke test of the distillation path mmpretrain's LeViT
cannot train), Mask R-CNN (shapes-coco) and UperNet (shapes-ade), each
ending with its evaluation; the training loss must go down.
"""
import pytest
import torch

from _e2e import smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/levit/'
DIGITS = [
    'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
    'train_dataloader.batch_size=32', 'train_dataloader.dataset.indices=640'
]
# task: (config, --cfg-options, a metric the final evaluation prints)
RUNS = {
    # 2 epochs x 20 iterations of 32 images, then top-1 on val
    'cls': (CFG + 'sup-levit-8l64d-p16_1xb64_digits.py', DIGITS,
            'accuracy/top1'),
    'distill': (CFG + 'distill-hard-levit-8l64d-p16_1xb64_digits.py', DIGITS,
                'accuracy/top1'),
    # 24 iterations on 96 images, then box / mask mAP on the val split
    # (score threshold 0 so the barely trained model yields detections)
    'det': (CFG + 'mask-rcnn-levit-8l64d-p16_1xb4_shapes-coco.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
        'model.test_cfg.rcnn.score_thr=0.0'
    ], 'coco/bbox_mAP'),
    # 30 iterations, then mIoU on the val split
    'seg': (CFG + 'upernet-levit-8l64d-p16_1xb4_shapes-ade.py',
            ['train_cfg.max_iters=30', 'train_cfg.val_interval=30'], 'mIoU'),
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
