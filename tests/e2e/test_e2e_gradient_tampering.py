# Copyright (c) mmvitplug contributors.
"""Smoke training of softmax gradient tampering's bundled config through
tools/train.py: the digits DeiT with mmvitplug.TamperedCrossEntropyLoss in
its head, one epoch of 20 batches of 16, ending with the digits
evaluation. The measured claim (training-set fit over 2 seeds) is in the
README."""
import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e


def test_gradient_tampering_trains(tmp_path, repo_root, bundled_digits,
                                   subprocess_env):
    log = smoke_train(
        repo_root, 'configs/bundled/gradient_tampering/'
        'sgt-deit-4l192d-p8_1xb16_digits.py', tmp_path / 'run',
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=320',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'TamperedCrossEntropyLoss' in log and 'accuracy/top1' in log
