# Copyright (c) mmvitplug contributors.
"""End to end: cosub on the bundled digits through tools/train.py.

The shipped config (deit-tiny widths, 4 blocks, 15 epochs) is shrunk with
``--cfg-options`` to a run of about a minute on two CPU cores: 64 dims,
patch size 8, batch 32, 8 epochs at lr 3e-3. Measured: 40.1 top-1 on the
validation digits (chance is 10), both loss terms logged and decreasing.
"""
import pytest

from _e2e import logged, train

CONFIG = 'configs/bundled/cosub/cosub-deit-4l192d-p4_1xb64_digits.py'
EPOCHS = 8
SMALL = [
    'model.backbone.arch.embed_dims=64',
    'model.backbone.arch.num_heads=2',
    'model.backbone.arch.feedforward_channels=128',
    'model.backbone.patch_size=8',
    'model.head.in_channels=64',
    'optim_wrapper.optimizer.lr=3e-3',
    'train_dataloader.batch_size=32',
    f'train_cfg.max_epochs={EPOCHS}',
    f'train_cfg.val_interval={EPOCHS}',
    f'param_scheduler.1.end={EPOCHS}',
    f'default_hooks.checkpoint.interval={EPOCHS}',
] + [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]


@pytest.mark.e2e
def test_cosub_learns_digits(bundled_digits, tmp_path, repo_root,
                             subprocess_env):
    train(repo_root, CONFIG, tmp_path, '--cfg-options', *SMALL,
          env=subprocess_env)
    top1 = logged(tmp_path, 'accuracy/top1')
    assert top1[-1] > 25, top1  # chance is 10; measured 40.1
    for key in ('loss_label', 'loss_mutual'):
        values = logged(tmp_path, key)
        first, last = values[:3], values[-3:]
        assert sum(last) < sum(first), (key, values)
