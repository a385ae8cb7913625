# Copyright (c) mmvitplug contributors.
"""The ImageNet configs carry the published recipes, and every schedule is
self-consistent.

``RECIPES`` is the table of published hyper-parameters, one row per config,
each with its source (paper table, official command line, or the first
author's answer in the official repository). The test reads the *resolved*
config, so a change in a shared ``_base_`` file that silently changes a
recipe fails here. The consistency tests run over every shipped config.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from _builders import REPO_ROOT

ROOT = REPO_ROOT
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p.split(osp.sep))

# config: (optimizer, lr, at total batch, weight decay, epochs,
#          warm-up epochs, drop path, label smoothing, source)
RECIPES = {
    'deit/sup-deit-tiny_8xb128_in1k.py':
    ('AdamW', 5e-4, 512, 0.05, 300, 5, 0.1, 0.1,
     'DeiT paper, Table 9 (lr 5e-4 x batch / 512)'),
    'deit/sup-deit-base_8xb128_in1k.py':
    ('AdamW', 5e-4, 512, 0.05, 300, 5, 0.1, 0.1, 'DeiT paper, Table 9'),
    'cait/sup-cait-xxs24_8xb128_in1k.py':
    ('AdamW', 5e-4, 512, 0.05, 400, 5, 0.05, 0.1,
     'CaiT paper: DeiT recipe, 400 epochs, XXS24 stochastic depth 0.05'),
    'cait/sup-cait-s24_8xb128_in1k.py':
    ('AdamW', 5e-4, 512, 0.05, 400, 5, 0.1, 0.1,
     'CaiT paper: S24 stochastic depth 0.1'),
    'resmlp/sup-resmlp-12_8xb128_in1k.py':
    ('Lamb', 5e-3, 2048, 0.2, 400, 5, 0.05, 0.1,
     'first author, facebookresearch/deit#106'),
    'patchconvnet/sup-patchconvnet-s60_8xb128_in1k.py':
    ('Lamb', 3e-3, 2048, 0.05, 300, 5, 0.1, 0.1,
     'first author, facebookresearch/deit#185 (LAMB, lr 3e-3, batch '
     '2048) on the official main.py defaults'),
    'cosub/cosub-deit-small_8xb128_in1k.py':
    ('Lamb', 4e-3, 2048, 0.05, 800, 5, 0.05, None,
     'official README_revenge.md ViT-S command (cosub trains on DeiT III)'),
}


def _load(rel):
    return Config.fromfile(osp.join(ROOT, 'configs', rel))


def _cosine_end(cfg):
    ends = [
        s['end'] for s in cfg.param_scheduler
        if s['type'] == 'CosineAnnealingLR'
    ]
    assert len(ends) == 1, cfg.param_scheduler
    return ends[0]


@pytest.mark.parametrize('rel', sorted(RECIPES))
def test_imagenet_recipe(rel):
    (opt, lr, batch, wd, epochs, warmup, drop_path, smoothing,
     source) = RECIPES[rel]
    cfg = _load(rel)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == opt, source
    # the runner scales lr linearly from auto_scale_lr.base_batch_size
    assert cfg.auto_scale_lr.enable
    lr_at_batch = optimizer.lr * batch / cfg.auto_scale_lr.base_batch_size
    assert lr_at_batch == pytest.approx(lr), source
    assert optimizer.weight_decay == pytest.approx(wd), source
    assert cfg.train_cfg.max_epochs == epochs, source
    assert _cosine_end(cfg) == epochs, source
    warmups = [
        s for s in cfg.param_scheduler if s['type'] == 'LinearLR'
    ]
    assert [(s['begin'], s['end']) for s in warmups] == [(0, warmup)]
    # official warm-up starts from 1e-6 at the reference batch
    assert warmups[0]['start_factor'] * lr == pytest.approx(1e-6)
    assert cfg.model.backbone.drop_path_rate == pytest.approx(drop_path)
    # cosub's loss is the classifier's (model.loss); its label term is
    # label_loss
    loss = (cfg.model.loss.label_loss if 'loss' in cfg.model
            else cfg.model.head.loss)
    if smoothing is None:
        assert 'label_smooth_val' not in loss, source
    else:
        assert loss.label_smooth_val == pytest.approx(smoothing), source
    # no weight decay on 1-D parameters (biases, norms, gains)
    paramwise = cfg.optim_wrapper.paramwise_cfg
    assert paramwise.get('flat_decay_mult') == 0.0 or (
        paramwise.get('norm_decay_mult') == 0.0
        and paramwise.get('bias_decay_mult') == 0.0)


@pytest.mark.parametrize('rel', sorted(RECIPES))
def test_imagenet_recipe_data(rel):
    """Mixup 0.8 / CutMix 1.0 and repeated augmentation, as in all the
    DeiT-family recipes."""
    cfg = _load(rel)
    augments = {
        a['type']: a['alpha']
        for a in cfg.model.get('data_preprocessor', cfg.data_preprocessor)
        ['batch_augments']['augments']
    }
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    assert cfg.train_dataloader.sampler.type == 'RepeatAugSampler'


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_schedule_is_consistent(path):
    """Schedulers step (a ParamSchedulerHook is registered) and end where
    training ends."""
    cfg = Config.fromfile(path)
    if 'param_scheduler' not in cfg:
        return
    hooks = cfg.get('default_hooks', {})
    assert any(
        h.get('type') == 'ParamSchedulerHook' for h in hooks.values()), (
            f'{path}: param_scheduler without a ParamSchedulerHook never '
            'steps')
    schedulers = cfg.param_scheduler
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    loop = cfg.train_cfg
    by_epoch = 'max_epochs' in loop
    length = loop['max_epochs'] if by_epoch else loop['max_iters']
    ends = [
        s['end'] for s in schedulers
        if 'end' in s and s.get('by_epoch', True) == by_epoch
    ]
    assert ends and max(ends) == length, (path, schedulers, length)
