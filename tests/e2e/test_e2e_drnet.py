# Copyright (c) mmvitplug contributors.
"""DRNet's bundled config through tools/train.py: two short epochs from
scratch, the classification loss, the FLOPs constraint and the batch's
cost ratio logged, the predictor and the resolution-specific BatchNorms
trained, the dispatched model evaluated. The measured claim (FLOPs per
image, top-1 and the predictor's choices over 2 seeds) is in the README
(tools/analysis/drnet_claims.py)."""
import pytest

from _e2e import SERIAL_LOADERS, logged, train

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/drnet/drnet-resnet18-w32_1xb64_digits.py'


def test_drnet_trains(tmp_path, repo_root, bundled_digits, subprocess_env):
    import torch

    log = train(
        repo_root, CONFIG, tmp_path / 'run', '--cfg-options',
        'train_cfg.max_epochs=2', 'train_dataloader.dataset.indices=64',
        'val_dataloader.dataset.indices=32', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        *SERIAL_LOADERS, env=subprocess_env, timeout=300)
    assert 'accuracy/top1' in log
    for term in ('loss', 'loss_flops', 'flops_ratio'):
        values = logged(tmp_path / 'run', term)
        assert all(v == v for v in values), term  # no NaN
    ratios = logged(tmp_path / 'run', 'flops_ratio')
    assert all(0.2 < r <= 1.0 for r in ratios), ratios

    def load(epoch):
        return torch.load(str(tmp_path / 'run' / f'epoch_{epoch}.pth'),
                          map_location='cpu',
                          weights_only=False)['state_dict']

    first, last = load(1), load(2)
    assert not torch.equal(first['predictor.fc.weight'],
                           last['predictor.fc.weight'])
    # one BatchNorm per resolution, each trained on its own statistics
    mean = last['backbone.bn1.running_mean']
    assert mean.shape == (3, 32)
    assert not torch.equal(mean[0], mean[2])
