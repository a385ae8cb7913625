# Copyright (c) mmvitplug contributors.
"""tools/analysis/distill_claims.py reads a segmentation run's result: the
last validation logged (mIoU, aAcc, mAcc at its iteration), across the
run's timestamped folders, and says so when none was logged; it evaluates
a classifier's checkpoint with each of its ``predict_with`` settings."""
import json
import os.path as osp

import pytest

from _builders import REPO_ROOT, load_tool

claims = load_tool('analysis/distill_claims.py')


def _log(folder, records):
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')


def test_segmentation_result_is_the_last_validation(tmp_path):
    _log(tmp_path / '20260101_000000' / 'vis_data', [
        dict(loss=1.0, lr=1e-3, step=10),
        dict(aAcc=90.0, mIoU=70.0, mAcc=80.0, step=10),
    ])
    # a resumed run: a later folder, a later validation
    _log(tmp_path / '20260101_010000' / 'vis_data', [
        dict(loss=0.5, lr=1e-4, step=20),
        dict(aAcc=95.0, mIoU=85.5, mAcc=90.0, data_time=0.1, step=20),
        dict(loss=0.4, lr=1e-5, step=25),
    ])
    assert claims.segmentation_result(str(tmp_path)) == (
        20, dict(mIoU=85.5, aAcc=95.0, mAcc=90.0))


def test_segmentation_result_without_validation(tmp_path):
    _log(tmp_path / '20260101_000000' / 'vis_data',
         [dict(loss=1.0, lr=1e-3, step=10)])
    with pytest.raises(RuntimeError, match=r'no validation \(mIoU\)'):
        claims.segmentation_result(str(tmp_path))


def test_evaluate_each_predict_with(tmp_path, bundled_digits, monkeypatch):
    """``--predict-with ensemble``: MixSKD's self-teacher head is evaluated
    on the same checkpoint as with ``model.predict_with='ensemble'``; a
    model without ``predict_with`` gets no such column."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    monkeypatch.chdir(REPO_ROOT)  # the data paths are the repository's
    folder = 'configs/bundled/mixskd/'
    config = folder + 'mixskd-resnet18-w32_1xb64-6e_digits.py'
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'mixskd.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    ensemble = tmp_path / 'ensemble.py'
    ensemble.write_text(
        f"_base_ = ['{osp.join(REPO_ROOT, config)}']\n"
        "model = dict(predict_with='ensemble')\n")
    both = claims.evaluate(config, ckpt, None, ['ensemble'])
    alone = claims.evaluate(str(ensemble), ckpt, None)
    assert set(both) == {'top1', 'top1_ensemble'}
    assert both['top1_ensemble'] == alone['top1']
    assert both['top1'] != both['top1_ensemble']  # random heads disagree
    baseline = folder + 'sup-resnet18-w32_1xb64-6e_digits.py'
    model = MODELS.build(Config.fromfile(baseline).model)
    torch.save({'state_dict': model.state_dict()}, ckpt)
    assert set(claims.evaluate(baseline, ckpt, None, ['ensemble'])) == {
        'top1'
    }


def test_checkpoints_by_epoch_or_iteration(tmp_path):
    for name in ('epoch_2.pth', 'epoch_10.pth', 'best.pth'):
        (tmp_path / 'e' / name).parent.mkdir(exist_ok=True)
        (tmp_path / 'e' / name).write_text('')
    for name in ('iter_575.pth', 'iter_100.pth'):
        (tmp_path / 'i' / name).parent.mkdir(exist_ok=True)
        (tmp_path / 'i' / name).write_text('')
    assert [s for s, _ in claims.checkpoints(str(tmp_path / 'e'))] == [2, 10]
    assert [s for s, _ in claims.checkpoints(str(tmp_path / 'i'))] == \
        [100, 575]


def test_initialised_model_is_the_config_init(tmp_path, monkeypatch):
    """``--init``: the model as its ``init_weights`` leaves it (seeded),
    saved once and reused."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    config = osp.join(REPO_ROOT, 'configs/bundled/archnet/'
                      'qat-resnet18-w32_1xb64_digits.py')
    monkeypatch.chdir(tmp_path)  # the tool works from the repository root
    path = claims.initialised(config, 1, str(tmp_path / 'run'))
    state = torch.load(path, weights_only=False)['state_dict']
    set_random_seed(1)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    set_random_seed(2)
    other = MODELS.build(Config.fromfile(config).model)
    other.init_weights()
    assert not torch.equal(other.backbone.stem[0].conv.weight,
                           state['backbone.stem.0.conv.weight'])
    assert claims.initialised(config, 2, str(tmp_path / 'run')) == path


def test_record_writes_the_last_step_per_seed(tmp_path):
    """--record: each config's numbers at its last step, per seed, under
    its model name (a stem used in several folders is <folder>/<stem>)."""
    import argparse

    from mmvitplug.utils.zoo import load_results
    distill = ('configs/bundled/deit/distill-hard-deit-4l192d-p8_1xb16_'
               'digits.py')
    sup = 'configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py'
    results = {
        ('distill-hard-deit-4l192d-p8_1xb16_digits', 0, 5): {'top1': 50.},
        ('distill-hard-deit-4l192d-p8_1xb16_digits', 0, 15): {
            'top1': 80.,
            'agreement': 85.
        },
        ('distill-hard-deit-4l192d-p8_1xb16_digits', 1, 15): {'top1': 82.},
        ('sup-deit-4l192d-p8_1xb16_digits', 0, 15): {'top1': 88.},
    }
    args = argparse.Namespace(configs=[distill, sup], seeds=[0, 1],
                              record='deit', results_root=str(tmp_path))
    claims.record(args, results)
    got = load_results('deit', root=str(tmp_path))
    top1 = got['distill-hard-deit-4l192d-p8_1xb16_digits']['accuracy/top1']
    assert top1['values'] == {0: 80., 1: 82.}
    assert top1['tool'] == 'tools/analysis/distill_claims.py'
    assert got['distill-hard-deit-4l192d-p8_1xb16_digits'][
        'agreement/teacher']['values'] == {0: 85.}
    assert got['deit/sup-deit-4l192d-p8_1xb16_digits']['accuracy/top1'][
        'values'] == {0: 88.}
