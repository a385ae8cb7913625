# Copyright (c) mmvitplug contributors.
"""SPViT end to end: the bundled search config through tools/train.py
from a random DeiT (one short epoch: CE and the FLOPs loss logged, the
thresholds moved at their own lr), tools/model_converters/spvit_export.py
(the architecture, the exported weights computing what the supernet
computes, the fine-tuning config it writes, which builds the plain model
the exported weights load into, strictly). The measured claim (FLOPs
target, img/s, top-1 over 2 seeds) is in the README."""
import importlib.util
import os.path as osp

import pytest

from _e2e import SERIAL_LOADERS, train

pytestmark = pytest.mark.e2e

CONFIGS = 'configs/bundled/spvit/'
SEARCH = CONFIGS + 'spvit-search-deit-4l192d-p8_1xb16-4e_digits.py'
FINETUNE = CONFIGS + 'spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py'


def test_spvit_searches_exports_and_finetunes(tmp_path, repo_root,
                                              bundled_digits,
                                              subprocess_env):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    torch.manual_seed(0)
    teacher = str(tmp_path / 'teacher.pth')
    state = MODELS.build(Config.fromfile(SEARCH).teacher).state_dict()
    torch.save({'state_dict': state}, teacher)
    small = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
             'val_dataloader.dataset.indices=16',
             'default_hooks.logger.interval=1', *SERIAL_LOADERS]
    log = train(
        repo_root, SEARCH, tmp_path / 'search', '--cfg-options',
        f'model.backbone.backbone.init_cfg.checkpoint={teacher}',
        f'model.head.init_cfg.checkpoint={teacher}', *small,
        env=subprocess_env, timeout=300)
    for term in ('loss_cls', 'loss_flops', 'accuracy/top1'):
        assert term in log, term
    ckpt = str(tmp_path / 'search' / 'epoch_1.pth')
    searched = torch.load(ckpt, map_location='cpu',
                          weights_only=False)['state_dict']
    theta = searched['backbone.vit.blocks.0.attn.kernel_thresholds']
    assert not torch.equal(theta, torch.full((3, ), 1.5))  # trained

    export = _load_tool(repo_root)
    result = export.main([SEARCH, ckpt, FINETUNE])
    assert result['max_diff'] < 1e-4  # exported == supernet (eval)
    assert result['gflops'] <= result['full']
    exported = torch.load(result['weights'], map_location='cpu',
                          weights_only=False)
    assert exported['meta']['spvit_arch'] == result['arch']
    cfg = Config.fromfile(result['config'])
    assert cfg.model.backbone.msa_choices == result['arch']['msa_choices']
    assert cfg.model.backbone.ffn_hidden == result['arch']['ffn_hidden']
    assert cfg.load_from == str(tmp_path / 'search' / 'spvit_exported.pth')
    # (the tool built that config's model and loaded the weights strictly)


def _load_tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'spvit_export',
        osp.join(repo_root, 'tools', 'model_converters', 'spvit_export.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
