# Copyright (c) mmvitplug contributors.
"""SSL pruning's bundled config through tools/train.py, its backbone
exported: DeepCluster on 128 digits for 3 short epochs, pruned
at the end of epochs 1 and 2 (rewound to iteration 2), 80% exactly; the
exported backbone holds the zeros (read by
tools/analysis/ssl_pruning_claims.py). The measured claim (k-NN of the
pruned network vs the random mask, 2 seeds) is in the README."""
import pytest
import torch

from mmvitplug.utils.export import export_backbone
from _builders import load_tool
from _e2e import SERIAL_LOADERS, train

pytestmark = pytest.mark.e2e

CONFIG = ('configs/bundled/ssl_pruning/'
          'prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py')


def test_ssl_pruning_trains_prunes_and_exports(tmp_path, repo_root,
                                               bundled_digits,
                                               subprocess_env):
    work = tmp_path / 'run'
    log = train(
        repo_root, CONFIG, work, '--cfg-options', 'train_cfg.max_epochs=3',
        'custom_hooks.1.interval=1', 'custom_hooks.1.rewind_iter=2',
        'train_dataloader.dataset.indices=128',
        'train_dataloader.batch_size=64', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=3', *SERIAL_LOADERS[:2],
        env=subprocess_env, timeout=300)
    assert 'MagnitudePruningHook, round 1/2 (epoch 1, magnitude)' in log
    assert 'MagnitudePruningHook, round 2/2 (epoch 2, magnitude)' in log
    assert 'rewound to iteration 2' in log
    checkpoint = torch.load(
        str(work / 'epoch_3.pth'), map_location='cpu', weights_only=False)
    exported = str(tmp_path / 'backbone.pth')
    # what tools/model_converters/export_backbone.py writes (in-process)
    torch.save(
        dict(state_dict=export_backbone(checkpoint['state_dict'],
                                        'backbone')), exported)
    s = load_tool('analysis/ssl_pruning_claims.py').sparsities(
        str(work / 'pruning_masks.pth'), exported)
    assert s['count'] == round(0.8 * s['total'])
    assert s['target'] == 0.8 and s['masks'] == s['count'] / s['total']
    assert s['pruned_zero'] == 1.0 and s['exported'] >= s['masks']
    # the last checkpoint resumes with its masks and rewinding state
    meta = checkpoint['meta']['pruning']
    assert meta['round'] == 2 and meta['rewind_state'] is not None
