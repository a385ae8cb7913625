# Copyright (c) mmvitplug contributors.
"""Smoke training of SoT's bundled config through tools/train.py: the
digits DeiT giving its raw tokens to mmvitplug.SoTClsHead (class token +
MGCrP with svPN), one epoch of 20 batches of 16, ending with the digits
evaluation. The measured claim (SoT head vs the class-token head over 2
seeds) is in the README."""
import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e


def test_sot_trains(tmp_path, repo_root, bundled_digits, subprocess_env):
    log = smoke_train(
        repo_root, 'configs/bundled/sot/sot-deit-4l192d-p8_1xb16_digits.py',
        tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.indices=320', *SERIAL_LOADERS,
        env=subprocess_env, timeout=300)
    assert 'SoTClsHead' in log and 'accuracy/top1' in log
