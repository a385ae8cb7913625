# Copyright (c) mmvitplug contributors.
"""End to end: the linear probe of an exported backbone on the bundled
digits through tools/train.py: the backbone is the exported one, frozen (it
ends the run bit-identical), only the linear layer on the concatenated
class tokens of the last 4 blocks learns.

Whether a pretrained backbone probes better than random init is measured
by a script (see the README), not here.
"""
import os.path as osp

import pytest
import torch

from _e2e import train, train_records

pytestmark = pytest.mark.e2e

CONFIG = 'configs/bundled/dino/linear-deit-4l64d-p8_1xb64_digits.py'


def test_linear_probe_trains_only_the_head(bundled_digits, tmp_path,
                                           repo_root, subprocess_env):
    from mmengine.config import Config

    from mmvitplug.registry import MODELS
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    backbone_cfg = dict(cfg.model.backbone)
    backbone_cfg.pop('init_cfg')
    torch.manual_seed(3)
    backbone = MODELS.build(backbone_cfg)
    with torch.no_grad():  # not the config's own initialisation
        for p in backbone.parameters():
            p.normal_(0, 0.1)
    exported = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               backbone.state_dict().items()}}, exported)
    work_dir = tmp_path / 'linear'
    log = train(repo_root, CONFIG, work_dir, '--cfg-options',
                f'model.backbone.init_cfg.checkpoint={exported}',
                'train_dataloader.dataset.indices=128',
                'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                'val_dataloader.num_workers=0',
                'val_dataloader.persistent_workers=False',
                'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                'param_scheduler.0.end=2',
                'default_hooks.checkpoint.interval=2',
                'default_hooks.logger.interval=1',
                env=subprocess_env)
    assert 'Loaded 54/54 tensors of DeiT' in log
    records = train_records(work_dir)
    assert len(records) == 4  # 128 images, batch 64, 2 epochs
    state = torch.load(osp.join(work_dir, 'epoch_2.pth'),
                       map_location='cpu', weights_only=False)['state_dict']
    for key, value in backbone.state_dict().items():
        assert torch.equal(state[f'backbone.{key}'], value), key
    # the head learned from its N(0, 0.01) init; it reads 4 x 64 features
    weight = state['head.fc.weight']
    assert weight.shape == (10, 256)
    assert weight.std() > 0.01 and state['head.fc.bias'].abs().sum() > 0
