# Copyright (c) mmvitplug contributors.
"""tools/analysis/benchmark_amp.py: what it builds and that it runs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from _builders import REPO_ROOT, load_tool

DIGITS_DEIT = osp.join(REPO_ROOT, 'configs', 'bundled', 'deit',
                       'sup-deit-4l192d-p8_1xb16_digits.py')
# timm's ViT of the same size as the digits DeiT
TIMM = ['--timm', 'vit_tiny_patch16_224', '--timm-kwargs',
        '{"depth": 4, "patch_size": 8, "img_size": 32}']


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    # setup_process re-executes the process on CPU unless this is set
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '65536')
    return load_tool('analysis/benchmark_amp.py')


def test_ours_is_the_config_as_train_amp_builds_it(tool):
    cfg = Config.fromfile(DIGITS_DEIT)
    model, wrapper = tool.build_ours(cfg, 'bfloat16', torch.device('cpu'))
    assert type(wrapper).__name__ == 'BF16OptimWrapper'
    assert type(tool.build_ours(cfg, 'float32', 'cpu')[1]).__name__ == \
        'OptimWrapper'
    # the config's data preprocessor (its normalisation) is the model's
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        cfg.data_preprocessor.mean)
    # the config is not modified
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'


def test_the_peer_has_the_same_architecture_and_settings(tool):
    cfg = Config.fromfile(DIGITS_DEIT)
    args = tool.parse_args([DIGITS_DEIT, *TIMM, '--device', 'cpu'])
    peer = tool.TimmPeer(cfg, args, torch.device('cpu'))
    ours, _ = tool.build_ours(cfg, 'float32', 'cpu')
    count = sum(p.numel() for p in ours.parameters())
    assert sum(p.numel() for p in peer.model.parameters()) == count
    group = peer.optimizer.param_groups[0]
    assert group['lr'] == cfg.optim_wrapper.optimizer.lr
    assert peer.dtype == torch.bfloat16


def test_batch_augments_are_read_and_unknown_ones_refused(tool):
    cfg = Config(dict(model=dict(
        head=dict(num_classes=7, loss=dict(label_smooth_val=0.1)),
        data_preprocessor=dict(batch_augments=dict(augments=[
            dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)
        ])))))
    assert tool.batch_augments(cfg) == (
        {'Mixup': 0.8, 'CutMix': 1.0}, 7, 0.1)
    cfg.model.data_preprocessor.batch_augments.augments.append(
        dict(type='ResizeMix', alpha=1.0))
    with pytest.raises(ValueError, match="'ResizeMix'.*Mixup, CutMix"):
        tool.batch_augments(cfg)


def test_bad_sizes_are_refused(tool):
    with pytest.raises(SystemExit):
        tool.parse_args([DIGITS_DEIT, *TIMM, '--steps', '0'])


def test_runs_and_reports_three_models(tool, capsys):
    med, ratios = tool.main([
        DIGITS_DEIT, *TIMM, '--device', 'cpu', '--img-size', '32',
        '--batch-size', '4', '--steps', '1', '--repeats', '1', '--warmup',
        '0', '--threads', '1', '--dtype', 'bfloat16'
    ])
    assert len(med) == 3 and len(ratios) == 2
    assert all(speed > 0 for speed, _ in med.values())
    out = capsys.readouterr().out
    assert 'BF16OptimWrapper' in out and 'ratio model, timm loop' in out


def test_record_writes_the_ratios_to_timm(tool, tmp_path):
    import argparse

    from mmvitplug.utils.zoo import load_results
    args = argparse.Namespace(
        config='configs/deit/sup-deit-small_8xb128_in1k.py',
        timm='deit_small_patch16_224', dtype='bfloat16', batch_size=256,
        img_size=224, steps=10, repeats=5, record='deit',
        results_root=str(tmp_path))
    ratios = {
        'mmvitplug (train_step)': [0.7851, 1.0123],
        'mmvitplug model, timm loop': [1.0012, 0.9987]
    }
    tool.record(args, ratios, 'cpu', 'cpu, 2 threads')
    got = load_results('deit', root=str(tmp_path))
    rec = got['sup-deit-small_8xb128_in1k@timm:deit_small_patch16_224']
    assert rec['speed/train_step_bfloat16']['value'] == 0.785
    assert rec['speed/train_model_bfloat16']['value'] == 1.001
    assert rec['memory/train_peak_bfloat16']['value'] == 1.012
    assert rec['speed/train_step_bfloat16']['tool'] == \
        'tools/analysis/benchmark_amp.py'
    assert 'batch 256 at 224 px' in rec['speed/train_step_bfloat16']['note']
