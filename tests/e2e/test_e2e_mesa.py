# Copyright (c) mmvitplug contributors.
"""Smoke training of the Mesa digits config through tools/train.py: the
hook converts the DeiT before the run, training runs with 8-bit saved
activations, and the checkpoint it writes loads strictly into the plain
(unconverted) classifier. The measured claim is in the README
(tools/analysis/distill_claims.py)."""
import glob

import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/mesa/mesa-deit-4l192d-p8_1xb16_digits.py'


def test_mesa_digits_trains(tmp_path, repo_root, bundled_digits,
                            subprocess_env):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401

    # one epoch of 20 batches of 16
    log = smoke_train(
        repo_root, CFG, tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.dataset.indices=320',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'Mesa: 8-bit saved activations for 17 linear, 4 matmul, ' \
           '4 softmax, 4 gelu, 9 layernorm' in log
    assert 'accuracy/top1' in log
    ckpt, = glob.glob(str(tmp_path / 'run' / 'epoch_1.pth'))
    plain = MODELS.build(Config.fromfile(CFG).model)
    plain.load_state_dict(
        torch.load(ckpt, map_location='cpu', weights_only=False)
        ['state_dict'])
