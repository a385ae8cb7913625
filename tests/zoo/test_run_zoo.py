# Copyright (c) mmvitplug contributors.
"""tools/zoo/run_zoo.py, the bundled-data zoo run, on a 2-model subset (one
seed, one short epoch) in a scratch copy: it trains, records, measures, and
regenerates the tables and plots there."""
import os
import os.path as osp

import pytest
import yaml

from mmvitplug.utils import zoo
from _builders import load_tool

run_zoo = load_tool('zoo/run_zoo.py')
sync = load_tool('zoo/sync.py')
MODELS = ('sup-g-ghost-regnetx-4l16d-p4_1xb64_digits',
          'sup-levit-8l64d-p16_1xb64_digits')
SHORT = ('train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
         'val_dataloader.dataset.indices=64')


def test_targets_come_from_the_metafiles():
    todo = run_zoo.targets(sync.load_metafiles())
    for name in MODELS:
        assert todo[name]['metrics'][0] == 'accuracy/top1'
        assert todo[name]['speed']
    # an SSL claim's random-init baseline is its pretraining's evaluation
    dino = todo['dino-deit-4l64d-p8_1xb64_digits']
    assert [e for e, _ in dino['evaluations']][0] == \
        'dino/knn-deit-4l64d-p8_1xb128_digits'
    assert 'dino/knn-deit-4l64d-p8_1xb128_digits' not in todo
    # comparison subjects of other tools are not targets
    assert not any('@' in name for name in todo)
    with pytest.raises(SystemExit, match='not zoo targets'):
        run_zoo.main(['--models', 'no-such-model', '--list'])


def test_dependencies_are_named_by_work_dirs_paths():
    assert run_zoo.config_of_stem('sup-deit-4l192d-p8_1xb16_digits') \
        .endswith('configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py')
    assert run_zoo.config_of_stem('sup-resnet18-w32_1xb64_digits') \
        .endswith('bundled/resnet/sup-resnet18-w32_1xb64_digits.py')
    found = run_zoo.DEPENDENCY.findall(
        "teacher_ckpt='work_dirs/sup-resnet18-w32_1xb64_digits/epoch_6.pth'")
    assert found == [('sup-resnet18-w32_1xb64_digits', 'epoch_6.pth')]


def forget(root, names):
    """Remove the records of ``names`` from the results under ``root`` (a
    model the zoo never ran)."""
    folder = root / 'docs' / 'zoo' / 'results'
    for path in folder.glob('*.yml'):
        data = yaml.safe_load(path.read_text()) or {}
        if set(names) & set(data):
            path.write_text(sync.dump_yaml(
                {k: v for k, v in data.items() if k not in names}))


@pytest.mark.e2e
def test_a_two_model_zoo_run(scratch, tmp_path):
    forget(scratch, MODELS)
    before = zoo.load_results(root=str(scratch))
    run_zoo.main(['--models', *MODELS, '--seeds', '0', '--work-dir',
                  str(tmp_path / 'work'), '--repo', str(scratch),
                  '--cfg-options', *SHORT])
    results = zoo.load_results(root=str(scratch))
    readme = (scratch / 'README.md').read_text()
    for name in MODELS:
        top1 = results[name]['accuracy/top1']
        assert top1['tool'] == 'tools/zoo/run_zoo.py'
        assert 'transcribed' not in top1 and list(top1['values']) == [0]
        assert 0 <= top1['values'][0] <= 100
        assert top1 != before.get(name, {}).get('accuracy/top1')
        assert results[name]['cpu/infer_img_s']['value'] > 0
        assert results[name]['cpu/train_peak_mib']['value'] > 0
        # the tables show the new number, without the transcription mark
        cell = f'`{name}` accuracy/top1: {sync.fmt_num(top1["values"][0])}'
        assert cell + ';' in readme or cell + ' |' in readme
    # the metafile's bundled metric follows the results
    meta = yaml.safe_load(
        (scratch / 'configs' / 'levit' / 'metafile.yml').read_text())
    model = [m for m in meta['Models'] if m['Name'] == MODELS[1]][0]
    assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == round(
        results[MODELS[1]]['accuracy/top1']['values'][0], 3)
    assert sync.main(['--check', '--repo', str(scratch)]) == 0
    for png in ('digits_top1_vs_speed.png', 'digits_train_memory.png'):
        assert osp.getsize(scratch / 'docs' / 'zoo' / png) > 10000


def test_a_config_naming_its_own_work_dir_is_no_dependency(monkeypatch,
                                                           tmp_path):
    """The digits teacher's config names work_dirs/<itself>/epoch_6.pth (for
    the students that inherit it): nothing to train first."""
    from _builders import REPO_ROOT
    config = osp.join(REPO_ROOT, 'configs', 'bundled', 'resnet',
                      'sup-resnet18-w32_1xb64_digits.py')

    def no_run(*args):
        raise AssertionError(f'ran {args}')

    monkeypatch.setattr(run_zoo, 'run', no_run)
    # in an empty root nothing exists yet
    run_zoo.ensure_dependencies(config, root=str(tmp_path))
    # a student of it does depend on it
    student = osp.join(REPO_ROOT, 'configs', 'bundled', 'deit',
                       'distill-hard-deit-4l192d-p8_1xb16_digits.py')
    with pytest.raises(AssertionError, match='tools/train.py'):
        run_zoo.ensure_dependencies(student, root=str(tmp_path))


def test_evaluations_take_only_the_options_they_can():
    from _builders import REPO_ROOT
    knn = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                   'knn-deit-4l64d-p8_1xb128_digits.py')
    linear = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                      'linear-deit-4l64d-p8_1xb64_digits.py')
    options = list(SHORT)
    assert run_zoo.applicable(options, knn) == []  # a test-only config
    assert run_zoo.applicable(options, linear) == options


def test_an_overridden_checkpoint_is_no_dependency(monkeypatch, tmp_path):
    """A linear probe names its pretraining's export; the zoo run gives it
    the export of its own run instead: nothing to pretrain first."""
    from _builders import REPO_ROOT
    linear = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                      'linear-deit-4l64d-p8_1xb64_digits.py')

    def no_run(*args):
        raise AssertionError(f'ran {args}')

    monkeypatch.setattr(run_zoo, 'run', no_run)
    for init in ('model.backbone.init_cfg.checkpoint=/x/backbone.pth',
                 'model.backbone.init_cfg=None'):
        run_zoo.ensure_dependencies(linear, root=str(tmp_path),
                                    options=[init])
    with pytest.raises(AssertionError, match='dino-deit-4l64d-p8'):
        run_zoo.ensure_dependencies(linear, root=str(tmp_path))


def test_a_linear_probe_is_recorded_as_linear_top1(tmp_path):
    import json

    from _builders import REPO_ROOT
    log = tmp_path / '20261204_000000' / 'vis_data'
    log.mkdir(parents=True)
    (log / 'scalars.json').write_text(
        json.dumps({'accuracy/top1': 55.5, 'step': 1}) + '\n')
    linear = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                      'linear-deit-4l64d-p8_1xb64_digits.py')
    knn = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                   'knn-deit-4l64d-p8_1xb128_digits.py')
    wanted = ['knn/top1_k20', 'linear/top1']
    assert run_zoo.evaluation_metrics(str(tmp_path), linear, wanted) == {
        'linear/top1': 55.5}
    # a fine-tuning that wants accuracy/top1 keeps it
    assert run_zoo.evaluation_metrics(str(tmp_path), linear,
                                      ['accuracy/top1']) == {
                                          'accuracy/top1': 55.5}
    # a k-NN config's classifier-less log: nothing renamed
    assert run_zoo.evaluation_metrics(str(tmp_path), knn, wanted) == {}


def test_a_converter_makes_the_files_a_run_does_not_write(monkeypatch,
                                                          tmp_path):
    """SPViT's fine-tuning reads the search's spvit_exported.pth: the zoo
    run trains the search, then runs spvit_export.py for that fine-tuning
    config (with a fake run that writes what each tool would)."""
    from _builders import REPO_ROOT
    finetune = osp.join(REPO_ROOT, 'configs', 'bundled', 'spvit',
                        'spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py')
    calls = []

    def fake_run(tool, *args):
        calls.append((tool, *args))
        if tool == 'tools/train.py':
            work = args[args.index('--work-dir') + 1]
            os.makedirs(work, exist_ok=True)
            with open(osp.join(work, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work, 'epoch_4.pth'))
        else:  # the converter writes next to the checkpoint
            out = osp.join(osp.dirname(args[1]), 'spvit_exported.pth')
            open(out, 'w').close()

    monkeypatch.setattr(run_zoo, 'run', fake_run)
    # the search's own teacher / init is there already
    monkeypatch.setattr(run_zoo, 'DEPENDENCY', run_zoo.re.compile(
        r'work_dirs/(spvit-search[^/\'"]+)/([^/\'"]+\.pth)'))
    run_zoo.ensure_dependencies(finetune, root=str(tmp_path))
    assert [c[0] for c in calls] == [
        'tools/train.py', 'tools/model_converters/spvit_export.py']
    search = calls[0][1]
    assert osp.basename(search).startswith('spvit-search-deit-4l192d-p8')
    assert calls[1][1:] == (search, osp.join(
        str(tmp_path), 'work_dirs', osp.splitext(osp.basename(search))[0],
        'epoch_4.pth'), finetune)
