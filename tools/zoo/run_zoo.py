# Copyright (c) mmvitplug contributors.
"""The bundled-data zoo run: train (and evaluate) every model the metafiles
show as evidence, record the results, regenerate the tables and plots.

    python tools/zoo/run_zoo.py                       # everything (hours)
    python tools/zoo/run_zoo.py --models NAME ...     # a subset
    python tools/zoo/run_zoo.py --stages speed        # only the CPU speed
    python tools/zoo/run_zoo.py --list                # what it would run

What runs comes from the metafiles (``configs/*/metafile.yml``): every
collection's ``Zoo.Micro`` models (each backbone's digits classifier, the
dense models on the shapes) and the ``Ours`` / ``Baseline`` models of each
method's ``Zoo.Claim``. Per model and seed (``randomness.seed``):

- a training config: ``tools/train.py CONFIG``, then the last logged value
  of each metric the metafiles show for it;
- a self-supervised pretraining whose metafile entry lists its evaluations
  (``Zoo.Evaluated By``: k-NN / soft-NN configs, linear probes,
  fine-tuning): the pretraining trains, ``export_backbone.py`` exports it,
  each evaluation runs on the export (``tools/test.py CONFIG backbone.pth``,
  or ``tools/train.py`` loading it into the backbone) and at random init
  (``tools/test.py CONFIG none`` / no ``init_cfg``); the pretrained numbers
  are recorded under the pretraining's name, the others under
  ``<evaluation>@random-init``.

A run needing another run's output names it as the bundled configs do:
``work_dirs/<config name>/<file>`` (a teacher's ``epoch_6.pth``, a
pretraining's exported ``backbone.pth``). Such a dependency is trained once
(seed 0, its config as shipped) into that very folder, or exported there,
when the file is missing.

``--stages speed`` measures each backbone's digits classifier on this
machine: inference img/s (``cpu/infer_img_s``, batch 64 at 32 x 32, 2
threads) and the peak memory growth of a training step
(``cpu/train_peak_mib``), the numbers of the zoo plots (one run on one
machine: compare within it).

Results go to ``docs/zoo/results/<family>.yml`` through
:func:`mmvitplug.utils.zoo.record_result`; at the end ``tools/zoo/sync.py``
and ``tools/analysis/zoo_plots.py`` regenerate the tables and plots. A
finished run in ``--work-dir`` is reused (``--retrain`` to run it again);
a failing model is reported and the others go on (exit status 1).
"""
import argparse
import glob
import importlib.util
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time
import traceback
from collections import OrderedDict
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RANDOM_INIT = '@random-init'
STAGES = ('train', 'speed')
TOOL = 'tools/zoo/run_zoo.py'


def load_tool(path):
    name = '_zoo_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = load_tool('zoo/sync.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=None,
                        help='model names (default: every target)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--stages', nargs='+', default=list(STAGES),
                        choices=STAGES)
    parser.add_argument('--work-dir', default='work_dirs/zoo')
    parser.add_argument('--repo', default=REPO,
                        help='where the metafiles are read and the results, '
                        'tables and plots written')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every training / test run of a '
                        'target whose config sets their top-level key (e.g. '
                        'a short schedule for a smoke run; a k-NN config '
                        'takes no train_cfg); dependencies run as shipped')
    parser.add_argument('--no-sync', action='store_true',
                        help='do not regenerate tables and plots')
    parser.add_argument('--list', action='store_true',
                        help='print the targets and exit')
    parser.add_argument('--retrain', action='store_true')
    parser.add_argument('--measure', metavar='CONFIG',
                        help=argparse.SUPPRESS)  # the speed stage's child
    return parser.parse_args(argv)


# ----------------------------------------------------------------- targets
def index_models(metas):
    """model name -> (metafile path, model entry)"""
    return {
        m['Name']: (path, m)
        for path, meta in metas.items() for m in meta.get('Models', [])
    }


def targets(metas) -> Dict[str, dict]:
    """model name -> {'family', 'config', 'metrics', 'evaluations',
    'speed'} of every model the metafiles show as evidence; a
    ``<evaluation>@random-init`` subject becomes the pretraining that lists
    that evaluation. Subjects measured by other tools (``arch@timm``,
    ``x@floor``, ...) are not targets."""
    models = index_models(metas)
    evaluated_by = {}
    for name, (_, model) in models.items():
        for ev in (model.get('Zoo') or {}).get('Evaluated By') or []:
            if ev not in models:
                raise ValueError(f'{name}: Zoo.Evaluated By {ev!r} is not a '
                                 'model of the index')
            evaluated_by.setdefault(ev, name)
    found = OrderedDict()

    def add(subject, metric, speed=False):
        name = subject
        if subject.endswith(RANDOM_INIT):
            name = evaluated_by.get(subject[:-len(RANDOM_INIT)])
        if name not in models:
            return
        path, model = models[name]
        zoo = model.get('Zoo') or {}
        entry = found.setdefault(
            name,
            dict(
                family=osp.basename(osp.dirname(path)),
                config=model['Config'],
                metrics=[],
                evaluations=[(ev, models[ev][1]['Config'])
                             for ev in zoo.get('Evaluated By') or []],
                speed=False))
        if metric not in entry['metrics']:
            entry['metrics'].append(metric)
        entry['speed'] |= speed

    for meta in metas.values():
        for col in meta.get('Collections', []):
            zoo = col.get('Zoo') or {}
            timed = zoo.get('Section') != 'backbones'  # one per backbone
            for micro in zoo.get('Micro') or []:
                speed = not timed and micro['Metric'] == 'accuracy/top1'
                timed |= speed
                add(micro['Model'], micro['Metric'], speed=speed)
            claim = zoo.get('Claim')
            if claim:
                add(claim['Ours'], claim['Metric'])
                add(claim['Baseline'], claim['Metric'])
    return found


# -------------------------------------------------------------------- runs
def run(*args):
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [sys.executable, *args]
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO, env=env,
                   stdout=subprocess.DEVNULL)


def load_config(config, options=()):
    """A config with ``--cfg-options``-style ``key=value`` strings merged."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *options]).o)
    return cfg


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def config_of_stem(stem):
    """The bundled config named ``stem`` (of a copy in several folders, the
    one in the folder its name starts with: ``sup-deit-...`` -> deit)."""
    found = sorted(
        glob.glob(osp.join(REPO, 'configs', '**', stem + '.py'),
                  recursive=True))
    found = [p for p in found if '_base_' not in p]
    if not found:
        raise FileNotFoundError(f'no config {stem}.py for the dependency '
                                f'work_dirs/{stem}')
    for path in found:
        family = osp.basename(osp.dirname(path))
        if re.search(rf'(^|-){re.escape(family)}', stem.replace('_', '-')):
            return path
    return found[0]


DEPENDENCY = re.compile(r'work_dirs/([^/\'"]+)/([^/\'"]+\.pth)')
#: dependency files a converter makes from a finished run: the tool and its
#: arguments ({run}: the run's config, {ckpt}: its last checkpoint, {out}:
#: the file, {reader}: the config that reads it)
EXPORTS = {
    'backbone.pth': ('tools/model_converters/export_backbone.py', '{run}',
                     '{ckpt}', '{out}'),
    # SPViT: the searched architecture as a plain model, next to the
    # search's checkpoint, for the fine-tuning config that reads it
    'spvit_exported.pth': ('tools/model_converters/spvit_export.py',
                           '{run}', '{ckpt}', '{reader}'),
}


def ensure_dependencies(config, seen=(), root=None, options=()):
    """Make the ``work_dirs/<config>/<file>`` files a config reads (with
    ``options`` merged: an overridden checkpoint is no dependency) exist
    under ``root`` (the repository, where the runs start): train those
    configs as shipped (seed 0) and export backbones."""
    root = root or REPO
    text = load_config(config, options).pretty_text
    own = osp.splitext(osp.basename(config))[0]
    for stem, filename in sorted(set(DEPENDENCY.findall(text))):
        if stem == own:  # a config naming its own work dir (e.g. as the
            continue     # teacher of the configs that inherit from it)
        path = osp.join(root, 'work_dirs', stem, filename)
        if osp.isfile(path):
            continue
        if stem in seen:
            raise RuntimeError(f'dependency cycle through {stem}')
        dep = config_of_stem(stem)
        ensure_dependencies(dep, seen + (stem, ), root)
        work = osp.join(root, 'work_dirs', stem)
        if not osp.isfile(osp.join(work, 'last_checkpoint')):
            run('tools/train.py', dep, '--work-dir', work, '--cfg-options',
                'randomness.seed=0')
        if filename in EXPORTS:  # made from the run by a converter
            tool, *template = EXPORTS[filename]
            fill = dict(run=dep, ckpt=last_checkpoint(work), out=path,
                        reader=config)
            run(tool, *(arg.format(**fill) for arg in template))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{config} reads {path}, which training {dep} did not write '
                '(a tool of the method makes it; see its page)')


def train(config, work_dir, seed, options, retrain, extra=()):
    ensure_dependencies(config, options=(*options, *extra))
    if retrain or not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        run('tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', f'randomness.seed={seed}', *options, *extra)
    return last_checkpoint(work_dir)


def logged(work_dir, metrics):
    """The last logged value of each wanted metric found under work_dir."""
    from mmvitplug.utils.logs import logged_records
    found = {}
    for record in logged_records(work_dir):
        found.update({k: v for k, v in record.items() if k in metrics})
    return found


def evaluation_metrics(work_dir, config, metrics):
    """What an evaluation logged: a k-NN / soft-NN test logs the metrics
    by their names; a linear probe is a classifier logging
    ``accuracy/top1``, recorded as ``linear/top1`` when that is wanted."""
    found = logged(work_dir, [*metrics, 'accuracy/top1'])
    if not is_test_only(config) and 'linear/top1' in metrics \
            and 'accuracy/top1' in found:
        found['linear/top1'] = found.pop('accuracy/top1')
    return {k: v for k, v in found.items() if k in metrics}


def is_test_only(config):
    return load_config(config).get('train_cfg') is None


def applicable(options, config):
    """The ``--cfg-options`` a config can take: those whose top-level key
    it sets (a k-NN config has no ``train_cfg`` to shorten)."""
    cfg = load_config(config)
    return [o for o in options
            if cfg.get(o.split('=', 1)[0].split('.', 1)[0]) is not None]


def evaluate(config, weights, work_dir, seed, options, retrain):
    """Metrics of an evaluation config on ``weights`` (None: random
    init)."""
    options = applicable(options, config)
    if is_test_only(config):
        if retrain or not glob.glob(osp.join(work_dir, '*', '*.json')):
            run('tools/test.py', config, weights or 'none', '--work-dir',
                work_dir, '--cfg-options', f'randomness.seed={seed}',
                *options)
    else:
        init = (f'model.backbone.init_cfg.checkpoint={weights}'
                if weights else 'model.backbone.init_cfg=None')
        train(config, work_dir, seed, options, retrain, extra=(init, ))
    return work_dir


def run_target(name, entry, args, record):
    """Train / evaluate one target for every seed and record it."""
    config = osp.join(REPO, entry['config'])  # configs are code
    missing = set()
    for seed in args.seeds:
        work = osp.join(args.work_dir, name.replace('/', '__'), f'seed{seed}')
        ckpt = train(config, work, seed, args.cfg_options, args.retrain)
        results = {name: logged(work, entry['metrics'])}
        if entry['evaluations']:
            exported = osp.join(work, 'backbone.pth')
            run('tools/model_converters/export_backbone.py', config, ckpt,
                exported)
            for ev_name, ev_config in entry['evaluations']:
                ev_config = osp.join(REPO, ev_config)
                tag = ev_name.replace('/', '__')
                for weights, subject in ((exported, name),
                                         (None, ev_name + RANDOM_INIT)):
                    wd = osp.join(work,
                                  tag + ('_pretrained' if weights else
                                         '_random'))
                    evaluate(ev_config, weights, wd, seed, args.cfg_options,
                             args.retrain)
                    results.setdefault(subject, {}).update(
                        evaluation_metrics(wd, ev_config, entry['metrics']))
        for subject, metrics in results.items():
            for metric, value in metrics.items():
                record(entry['family'], subject, metric,
                       values={seed: round(value, 3)}, tool=TOOL,
                       root=args.repo)
        got = set(results[name])
        missing |= set(entry['metrics']) - got
        print(f'{name} seed {seed}: {results}', flush=True)
    if missing:
        print(f'{name}: {sorted(missing)} not logged by a plain run (a '
              'method tool measures it: see the record\'s tool)', flush=True)


# ------------------------------------------------------------------- speed
def measure_speed(config, batch=64, size=32, repeats=7, threads=2):
    """(inference img/s, training-step peak memory growth in MiB) of the
    classifier a config builds, on random images."""
    import torch
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    bench = load_tool('analysis/benchmark.py')
    torch.set_num_threads(threads)
    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch, ))

    def forward():
        out = model(x, mode='tensor')
        return out[-1] if isinstance(out, (list, tuple)) else out

    model.eval()
    speeds = []
    with torch.no_grad():
        forward()
        for _ in range(repeats):
            start = time.perf_counter()
            forward()
            speeds.append(batch / (time.perf_counter() - start))
    model.train()
    peaks = []
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        with bench.PeakMemory(torch.device('cpu')) as mem:
            torch.nn.functional.cross_entropy(forward(), y).backward()
        peaks.append(mem.peak / 2**20)
    return statistics.median(speeds), statistics.median(peaks)


def run_speed(name, entry, args, record):
    """Measure in a fresh process whose freed tensors leave the resident
    set (``MALLOC_MMAP_THRESHOLD_``, as benchmark.py), so that the memory
    growth of a step is seen."""
    import json
    bench = load_tool('analysis/benchmark.py')
    env = dict(os.environ, OMP_NUM_THREADS='2', **{bench.MMAP_ENV: '65536'})
    out = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'zoo', 'run_zoo.py'),
         '--measure', osp.join(REPO, entry['config'])],
        check=True, cwd=REPO, env=env, capture_output=True, text=True)
    img_s, mib = json.loads(out.stdout.strip().splitlines()[-1])
    note = ('batch 64 at 32 x 32, 2 threads, one zoo run on one machine: '
            'compare within it')
    record(entry['family'], name, 'cpu/infer_img_s', value=round(img_s, 1),
           tool=TOOL, note=note, root=args.repo)
    record(entry['family'], name, 'cpu/train_peak_mib', value=round(mib, 1),
           tool=TOOL, note=note, root=args.repo)
    print(f'{name}: {img_s:.0f} img/s, {mib:.0f} MiB', flush=True)


# -------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    if args.measure:
        import json
        print(json.dumps(measure_speed(args.measure)))
        return None
    from mmvitplug.utils.zoo import record_result
    metas = sync.load_metafiles(args.repo)
    todo = targets(metas)
    if args.models:
        unknown = sorted(set(args.models) - set(todo))
        if unknown:
            raise SystemExit(f'not zoo targets: {unknown}; choose from '
                             f'{sorted(todo)}')
        todo = OrderedDict((k, v) for k, v in todo.items()
                           if k in args.models)
    if args.list:
        for name, entry in todo.items():
            evals = [e for e, _ in entry['evaluations']]
            print(f'{name:<58} {", ".join(entry["metrics"])}'
                  + (f' (evaluated by {", ".join(evals)})' if evals else '')
                  + (' + speed' if entry['speed'] else ''))
        return todo
    failed = []
    for name, entry in todo.items():
        stages = [('train', run_target)]
        if entry['speed']:
            stages.append(('speed', run_speed))
        for stage, fn in stages:
            if stage not in args.stages:
                continue
            try:
                fn(name, entry, args, record_result)
            except Exception:  # noqa: BLE001  (report, go on)
                traceback.print_exc()
                failed.append(f'{name} ({stage})')
    if not args.no_sync:
        sync.main(['--repo', args.repo])
        load_tool('analysis/zoo_plots.py').main(['--repo', args.repo])
    if failed:
        print(f'\nfailed: {failed}', flush=True)
        raise SystemExit(1)
    return todo


if __name__ == '__main__':
    main()
