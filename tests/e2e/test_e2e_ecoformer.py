# Copyright (c) mmvitplug contributors.
"""Smoke training of the EcoFormer digits config through tools/train.py:
every attention of the DeiT is EcoFormer's, the hook refits the hash
functions at the first batch of the epoch, and the checkpoint it writes
(hash functions included, marked fitted) loads strictly into a new model
and evaluates with the trained codes. The measured claim is in the README
(tools/analysis/distill_claims.py)."""
import glob

import pytest

from _e2e import SERIAL_LOADERS, smoke_train

pytestmark = pytest.mark.e2e

CFG = 'configs/bundled/ecoformer/ecoformer-deit-4l192d-p8_1xb16_digits.py'


def test_ecoformer_digits_trains(tmp_path, repo_root, bundled_digits,
                                 subprocess_env):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401

    # one epoch of 20 batches of 16; a short fit (10 SGD steps per bit)
    log = smoke_train(
        repo_root, CFG, tmp_path / 'run', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.dataset.indices=320',
        'model.backbone.fit_iters=10', *SERIAL_LOADERS, env=subprocess_env,
        timeout=300)
    assert 'EcoFormer: refitting the hash functions of 4 attention layers ' \
           'on the first batch of epoch 0' in log
    assert 'accuracy/top1' in log
    ckpt, = glob.glob(str(tmp_path / 'run' / 'epoch_1.pth'))
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    model = MODELS.build(Config.fromfile(CFG).model)
    model.load_state_dict(state)
    attn = model.backbone.vit.blocks[0].attn
    assert attn.fitted and attn.ksh.A.shape == (3, 16, 8)
    assert not torch.equal(attn.ksh.anchor, torch.zeros_like(attn.ksh.anchor))
