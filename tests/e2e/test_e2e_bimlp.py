# Copyright (c) mmvitplug contributors.
"""BiMLP's bundled binary config through tools/train.py: two short epochs
on 32 digits, the loss and the accuracy logged, the latent weights of the
binary layers trained, and the saved model, built from its config, uses
only the two values +-mean|W| per output channel in every binary layer. The
measured claim (BOPs, size, top-1 over 2 seeds against the full-precision
twin) is in the README."""
import pytest
import torch

from _e2e import SERIAL_LOADERS, train

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/bimlp/bimlp-bimlp-7l16d-p4_1xb64_digits.py'


def test_bimlp_trains(tmp_path, repo_root, bundled_digits, subprocess_env):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    from mmvitplug.layers import BinaryConv2d
    log = train(
        repo_root, CONFIG, tmp_path / 'run', '--cfg-options',
        'train_cfg.max_epochs=2', 'train_dataloader.dataset.indices=32',
        'val_dataloader.dataset.indices=16', 'train_dataloader.batch_size=16',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2', *SERIAL_LOADERS,
        env=subprocess_env, timeout=300)
    assert 'loss' in log and 'accuracy/top1' in log

    def load(epoch):
        return torch.load(str(tmp_path / 'run' / f'epoch_{epoch}.pth'),
                          map_location='cpu',
                          weights_only=False)['state_dict']

    first, last = load(1), load(2)
    key = 'backbone.stages.0.0.attn.fc_h.conv.weight'
    assert not torch.equal(first[key], last[key])
    model = MODELS.build(Config.fromfile(CONFIG).model)
    model.load_state_dict(last)
    convs = [m for m in model.modules() if isinstance(m, BinaryConv2d)]
    assert convs and all(m.binary for m in convs)
    for conv in convs:
        w = conv.binary_weight().detach().flatten(1)
        alpha = conv.weight.detach().abs().flatten(1).mean(dim=1)
        # +-alpha only: two values per output channel (one where the
        # latent weights share a sign)
        torch.testing.assert_close(w.abs(), alpha[:, None].expand_as(w))
        assert all(len(row.unique()) <= 2 for row in w)
