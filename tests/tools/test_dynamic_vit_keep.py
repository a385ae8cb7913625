# Copyright (c) mmvitplug contributors.
"""tools/analysis/dynamic_vit_keep.py evaluates a DynamicViT checkpoint
with its learned keep decisions, random ones of the same counts and none:
random scores keep other tokens (and other ones per seed), at the same
counts; 'unpruned' is the plain network of the same weights."""
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool

CONFIG = 'configs/bundled/dynamic_vit/dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py'  # noqa: E501


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'analysis'))
    monkeypatch.chdir(REPO_ROOT)  # the data paths are the repository's
    return load_tool('analysis/dynamic_vit_keep.py')


def test_random_scores_keep_other_tokens_at_the_same_counts(tool):
    import torch

    from mmvitplug.models.backbones import DynamicViT
    torch.manual_seed(0)
    model = DynamicViT(
        dict(type='mmvitplug.DeiT',
             arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                       feedforward_channels=64),
             img_size=32, patch_size=4)).eval()
    x = torch.randn(2, 3, 32, 32)
    sizes = []
    model.vit.blocks[3].register_forward_pre_hook(
        lambda m, args: sizes.append(args[0]))

    def last_tokens():
        sizes.clear()
        model(x)
        return sizes[0]

    learned = last_tokens()
    with tool.random_scores(model):
        torch.manual_seed(0)
        first = last_tokens()
        torch.manual_seed(1)
        second = last_tokens()
    assert learned.shape == first.shape == second.shape  # the same counts
    assert not torch.equal(first, learned)
    assert not torch.equal(first, second)
    assert torch.equal(last_tokens(), learned)  # the hooks are gone
    with tool.unpruned(model):
        assert last_tokens().shape[1] == 1 + 64
    assert model.keep_ratios == [0.7, 0.7**2, 0.7**3]


def test_main_on_a_digits_checkpoint(tool, tmp_path, bundled_digits):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    student = MODELS.build(
        dict(type='ImageClassifier', backbone=cfg.model.backbone,
             head=dict(cfg.model.head, loss=dict(type='CrossEntropyLoss'))))
    ckpt = str(tmp_path / 'student.pth')
    torch.save({'state_dict': student.state_dict()}, ckpt)
    results = tool.main([CONFIG, ckpt, '--seeds', '0', '1'])
    assert set(results) == {'learned', 'random (seed 0)', 'random (seed 1)',
                            'random (mean)', 'unpruned'}
    assert results['random (mean)'] == pytest.approx(
        (results['random (seed 0)'] + results['random (seed 1)']) / 2)
    # unpruned: the plain DeiT of the same weights
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=cfg.model.backbone.backbone,
             head=dict(cfg.model.head, loss=dict(type='CrossEntropyLoss')),
             data_preprocessor=cfg.data_preprocessor))
    plain.load_state_dict(
        {k.replace('backbone.vit.', 'backbone.'): v
         for k, v in student.state_dict().items()
         if not k.startswith('backbone.predictors.')})
    plain.eval()
    _, loader = tool.load_student(CONFIG, ckpt)
    assert results['unpruned'] == pytest.approx(tool.top1(plain, loader))


def _keep_results():
    return {'learned': 76.6, 'random (seed 0)': 70.0,
            'random (seed 1)': 71.0, 'random (seed 2)': 71.5,
            'random (mean)': 70.83333, 'unpruned': 86.9}


def _record_args(tmp_path, seed=None):
    import argparse
    return argparse.Namespace(record='dynamic_vit', record_seed=seed,
                              results_root=str(tmp_path))


def test_record_random_keep_and_unpruned(tool, tmp_path):
    import torch

    from mmvitplug.utils.zoo import load_results
    ckpt = str(tmp_path / 'epoch_6.pth')
    torch.save({'state_dict': {}, 'meta': {'seed': 1}}, ckpt)
    tool.record(_record_args(tmp_path), CONFIG, ckpt, _keep_results())
    got = load_results('dynamic_vit', root=str(tmp_path))
    model = 'dynamicvit-deit-4l192d-p8_1xb16-6e_digits'
    assert set(got) == {f'{model}@random-keep',
                        f'{model}@unpruned-inference'}
    random = got[f'{model}@random-keep']['accuracy/top1']
    unpruned = got[f'{model}@unpruned-inference']['accuracy/top1']
    assert set(got[f'{model}@random-keep']) == {'accuracy/top1'}
    assert random['values'] == {1: 70.83}
    assert unpruned['values'] == {1: 86.9}
    for record in (random, unpruned):
        assert record['tool'] == 'tools/analysis/dynamic_vit_keep.py'
        assert 'epoch_6.pth' in record['note']
        assert 'transcribed' not in record
    assert 'mean of 3 draws (seeds 0 1 2)' in random['note']
    assert 'without pruning' in unpruned['note']
    # another checkpoint, its seed given: the seeds accumulate
    tool.record(_record_args(tmp_path, seed=0), CONFIG, ckpt,
                dict(_keep_results(), unpruned=88.25))
    got = load_results('dynamic_vit', root=str(tmp_path))
    assert got[f'{model}@unpruned-inference']['accuracy/top1'][
        'values'] == {0: 88.25, 1: 86.9}


def test_record_needs_the_training_seed(tool, tmp_path):
    import torch
    ckpt = str(tmp_path / 'student.pth')
    torch.save({'state_dict': {}}, ckpt)
    with pytest.raises(SystemExit, match='--record-seed'):
        tool.record(_record_args(tmp_path), CONFIG, ckpt, _keep_results())
    assert not (tmp_path / 'docs').exists()
