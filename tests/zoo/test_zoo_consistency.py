# Copyright (c) mmvitplug contributors.
"""The metafiles are complete and true to the repository, and everything
generated from them (model-index.yml, the README's tables, each family
page's model table, the bundled models' metrics) is up to date."""
import glob
import os
import os.path as osp

import yaml

from mmvitplug.utils import zoo
from _builders import REPO_ROOT, load_tool

sync = load_tool('zoo/sync.py')
METAS = sync.load_metafiles(REPO_ROOT)
RESULTS = zoo.load_results(root=REPO_ROOT)
MODELS = [(path, m) for path, meta in METAS.items()
          for m in meta.get('Models', [])]
COLLECTIONS = [(path, c) for path, meta in METAS.items()
               for c in meta.get('Collections', [])]
SECTIONS = set(sync.SECTIONS)


def all_configs():
    paths = glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                      recursive=True)
    return sorted(
        osp.relpath(p, REPO_ROOT) for p in paths
        if not {'_base_', '_teachers'} & set(p.split(os.sep)))


def test_generated_files_are_up_to_date():
    stale = sync.stale_files(sync.expected_files(REPO_ROOT), REPO_ROOT)
    assert not stale, f'run python tools/zoo/sync.py: stale {stale}'


def test_every_config_is_one_model():
    listed = [m['Config'] for _, m in MODELS]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    missing = sorted(set(all_configs()) - set(listed))
    assert not missing, f'configs without a metafile entry: {missing}'
    extra = sorted(set(listed) - set(all_configs()))
    assert not extra, f'metafile configs that do not exist: {extra}'


def test_model_names_follow_the_config_names():
    stems = {}
    for config in all_configs():
        stems.setdefault(osp.splitext(osp.basename(config))[0],
                         []).append(config)
    for path, model in MODELS:
        stem = osp.splitext(osp.basename(model['Config']))[0]
        folder = osp.basename(osp.dirname(model['Config']))
        expected = stem if len(stems[stem]) == 1 else f'{folder}/{stem}'
        assert model['Name'] == expected, (path, model['Name'], expected)


def test_models_are_well_formed():
    collections = {c['Name'] for _, c in COLLECTIONS}
    for path, model in MODELS:
        where = f'{path}: {model["Name"]}'
        assert model.get('In Collection') in collections, where
        results = model.get('Results')
        assert results, f'{where}: no Results (its task decides the registry)'
        for result in results:
            assert result['Task'] in zoo.KNOWN_TASKS, where
            metrics = result.get('Metrics') or {}
            bundled = result['Dataset'] in sync.BUNDLED_DATASETS
            if metrics and not bundled:
                assert (model.get('Zoo') or {}).get('Results From'), (
                    f'{where}: a published number needs Zoo.Results From')
        meta = model.get('Metadata') or {}
        assert isinstance(meta.get('Parameters'), int), (
            f'{where}: no Parameters (python tools/zoo/sync.py --count '
            f'{model["Name"]})')


def test_collections_are_well_formed():
    model_names = {m['Name'] for _, m in MODELS}
    for path, col in COLLECTIONS:
        where = f'{path}: {col["Name"]}'
        zoo_ = col.get('Zoo') or {}
        assert zoo_.get('Section') in SECTIONS, where
        assert (col.get('Paper') or {}).get('URL', '').startswith('http'), \
            where
        code = (col.get('Code') or {}).get('URL')
        assert code and osp.exists(osp.join(REPO_ROOT, code)), where
        for test in zoo_.get('Tests') or []:
            assert osp.isfile(osp.join(REPO_ROOT, test)), (where, test)
        assert osp.isfile(osp.join(REPO_ROOT, zoo_['Details'])), where
        for name in zoo_.get('Registered') or []:
            assert name.startswith('mmvitplug.'), (where, name)
            assert registered(name[len('mmvitplug.'):]), (where, name)
        for entry in zoo_.get('Micro') or []:
            assert entry['Model'] in model_names, (where, entry)
        claim = zoo_.get('Claim')
        if claim:
            assert claim.get('Better', 'higher') in ('higher', 'lower')
            for key in ('Ours', 'Baseline'):
                assert claim[key] in RESULTS, (where, key, claim[key])
                assert claim['Metric'] in RESULTS[claim[key]], (where, key)


def registered(name):
    """Whether a type name is in any mmvitplug registry."""
    import mmvitplug.registry as reg
    for attr in dir(reg):
        registry = getattr(reg, attr)
        if hasattr(registry, 'get') and hasattr(registry, 'module_dict'):
            if name in registry.module_dict:
                return True
    return False


def test_results_are_well_formed():
    for subject, metrics in RESULTS.items():
        for metric, record in metrics.items():
            kinds = [k for k in zoo.RESULT_KINDS if k in record]
            assert len(kinds) == 1, (subject, metric)
            assert record.get('tool'), (subject, metric)
            tool = record['tool'].split()[0]
            assert osp.isfile(osp.join(REPO_ROOT, tool)), (subject, metric,
                                                           tool)


# ------------------------------------------- regeneration in a scratch copy
def first_parity(metas):
    for path, meta in metas.items():
        for col in meta.get('Collections', []):
            for p in (col.get('Zoo') or {}).get('Parity') or []:
                if p.get('Max Abs Error') is not None and col['Zoo'][
                        'Section'] == 'backbones':
                    return path, col, p
    raise AssertionError('no parity number in any metafile')


def test_changing_a_metafile_number_changes_the_readme(scratch):
    assert sync.main(['--check', '--repo', str(scratch)]) == 0
    path, col, parity = first_parity(sync.load_metafiles(str(scratch)))
    meta = yaml.safe_load(open(scratch / path))
    for c in meta['Collections']:
        if c['Name'] == col['Name']:
            for p in c['Zoo']['Parity']:
                if p['Reference'] == parity['Reference']:
                    p['Max Abs Error'] = 0.123456
    (scratch / path).write_text(sync.dump_yaml(meta))
    # the README is now stale, and the check says so
    assert sync.main(['--check', '--repo', str(scratch)]) == 1
    assert 'README.md' in sync.stale_files(
        sync.expected_files(str(scratch)), str(scratch))
    sync.main(['--repo', str(scratch)])
    readme = (scratch / 'README.md').read_text()
    assert f'{parity["Reference"]}: 0.1235' in readme
    assert sync.main(['--check', '--repo', str(scratch)]) == 0


def test_a_new_result_changes_the_metafile_and_the_tables(scratch):
    """A tool recording a digits run: the bundled model's metric in its
    metafile and the README / family tables follow after regeneration."""
    name, metric = None, None
    for path, col in COLLECTIONS:
        for entry in (col.get('Zoo') or {}).get('Micro') or []:
            if entry['Metric'] == 'accuracy/top1':
                name, metric = entry['Model'], entry['Metric']
                family_path = path
                break
        if name:
            break
    assert name, 'no Micro accuracy/top1 entry in any metafile'
    family = osp.basename(osp.dirname(family_path))
    zoo.record_result(family, name, metric, values={0: 12.5, 1: 13.5},
                      tool='tools/train.py', root=str(scratch))
    assert sync.main(['--check', '--repo', str(scratch)]) == 1
    sync.main(['--repo', str(scratch)])
    meta = yaml.safe_load(open(scratch / family_path))
    model = [m for m in meta['Models'] if m['Name'] == name][0]
    assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == 13.0
    assert '12.5 / 13.5 (13)' in (scratch / 'README.md').read_text()
